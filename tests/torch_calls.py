"""Record the torch calls a piece of code makes: ``prepare`` must make none (EmbeddingModel.prepare)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.overrides import TorchFunctionMode


class TorchCallRecorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def torch_calls_in(function: Callable[..., Any], *args: Any) -> tuple[list[str], Any]:
    """(names of the torch functions called, the result) of ``function(*args)``."""
    with TorchCallRecorder() as recorder:
        result = function(*args)
    return recorder.calls, result
