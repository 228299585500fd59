"""Glue shared by the commands: model loading from options, input collection, failure accounting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clapcli.commands.output import Output
from clapcli.errors import PartialFailure, UsageError
from clapcli.results import FailedInput


@dataclass
class ModelOptions:
    model: str | None
    device: str | None
    dtype: str
    quantize: str | None = None
    long_audio: str | None = None
    runtime: str | None = None
    precision: str | None = None

    def load(self) -> Any:
        from clapcli.models.loading import load_embedding_model

        return load_embedding_model(self.model, self.device or "", self.dtype, self.quantize, self.long_audio,
                                    self.runtime, self.precision)


def collect_sources(inputs: list[str], modality: str) -> list:
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import extensions_for

    if inputs.count("-") > 1:
        raise UsageError("'-' (paths from stdin) can be given only once")
    return list(expand_inputs(inputs, extensions_for(modality)))


class FailureLog:
    """Names each failed input on stderr as it happens; ``finish`` prints the summary and raises
    ``PartialFailure`` (exit 3, mapped at the CLI boundary) when any input failed."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.failed: list[FailedInput] = []

    def add(self, failure: FailedInput) -> None:
        self.failed.append(failure)
        self.output.failed(failure.source, failure.reason)

    def finish(self, done: int, what: str, summary: bool = True) -> None:
        if self.failed or (summary and not self.output.quiet):
            failed = f", [red]{len(self.failed)} failed[/]" if self.failed else ""
            self.output.summary(f"{done} {what}{failed}")
        if self.failed:
            raise PartialFailure(f"{len(self.failed)} of {done + len(self.failed)} inputs failed")
