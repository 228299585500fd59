"""What every exported model shares, whatever its media: the CPU "device", float32 rows that answer
``.numpy()`` like torch tensors, and the text side (the recorded tokenizer, then the text tower).
Audio (``model.py``) and image (``image.py``) exports build on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import ModelLoadError
from clapcli.models.runtime.manifest import Manifest


class Rows(np.ndarray):
    """float32 rows that also answer ``.numpy()``, as the torch backends' tensors do for core code."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)


def rows(array: np.ndarray) -> Rows:
    return np.ascontiguousarray(array, dtype=np.float32).view(Rows)


@dataclass(frozen=True)
class HostDevice:
    """Where an exported model runs: the CPU (``.type`` as ``torch.device`` has it)."""

    type: str = "cpu"

    def __str__(self) -> str:
        return self.type


class TextTokens:
    """Texts -> (input_ids, attention_mask) int64, padded per call, as the export recorded."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exceptions on bad JSON
            raise ModelLoadError(f"export directory '{path.parent}': {path.name} is not a readable tokenizer "
                                 f"({type(exc).__name__}); export again with --overwrite") from None
        tokenizer.no_truncation()
        if settings.get("max_length"):
            tokenizer.enable_truncation(int(settings["max_length"]))
        tokenizer.enable_padding(pad_id=int(settings["pad_id"]), pad_token=str(settings["pad_token"]))
        self.tokenizer = tokenizer
        self.suffix = str(settings.get("suffix") or "")

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self.tokenizer.encode_batch([text + self.suffix for text in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return ids, mask


class ExportedTextSide:
    """What every exported model shares: loading by directory, the recorded logit scale, and the text
    tower (tokens through the ``tokenizers`` library, then the exported tower)."""

    manifest: Manifest
    directory: Path
    towers: Any

    def attach(self, directory: Path, manifest: Manifest, towers: Any) -> None:
        """What every exported model holds: its directory, manifest and towers, and what they say (the CPU,
        the compute type, the source model, the embedding width)."""
        self.directory = Path(directory)
        self.manifest = manifest
        self.towers = towers
        self.runtime = towers.runtime
        self.precision = towers.compute
        self.model_id = manifest.source_model
        self.device = HostDevice()
        self.dtype = towers.compute
        self.embedding_dim = int(manifest.embedding_dim)

    @cached_property
    def tokens(self) -> TextTokens:
        """Read on first use: an audio-only run never pays for the tokenizer (80 ms for RoBERTa's)."""
        return TextTokens(self.directory / self.manifest.text["tokenizer"], self.manifest.text)

    @classmethod
    def load(cls, ref: Any, config: dict[str, Any], device: Any, dtype: Any, long_audio: str | None = None) -> Any:
        """Exported models are opened by directory (``runtime.model.load_export``), never from the registry."""
        raise TypeError(f"{cls.__name__} is opened with clapcli.models.runtime.model.load_export(directory)")

    @property
    def logit_scale(self) -> float:
        return float(self.manifest.logit_scale)

    def encode_text(self, texts: Sequence[str]) -> Rows:
        ids, mask = self.tokens(texts)
        return rows(self.towers.text(ids, mask))
