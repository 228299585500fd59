"""Serve Microsoft's original MS-CLAP release (``CLAP_weights_2023.pth``) wherever a model is accepted.

``ensure_converted`` is called for every embedding model: anything that is not an original MS-CLAP
checkpoint comes back unchanged, without touching the disk beyond a ``stat`` or the network. The
``microsoft/msclap`` hub repo and local ``.pth`` files are converted once into
``$CLAPCLI_HOME/converted/<name>`` (default ``~/.cache/clapcli``) and served from there.

That a conversion happens is logged at INFO on the ``clapcli`` logger (it takes seconds, and writes
to the cache); the CLI shows such records as notes on stderr.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from clapcli import settings
from clapcli.errors import ModelLoadError
from clapcli.models.hub import ModelRef

HUB_REPO = "microsoft/msclap"
HUB_FILE = "CLAP_weights_2023.pth"
CHECKPOINT_SUFFIXES = (".pth", ".pt")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json")

log = logging.getLogger(__name__)


def converted_root() -> Path:
    return settings.home() / "converted"


def ensure_converted(ref: ModelRef) -> ModelRef:
    """``ref`` itself, or a local ref to the converted copy of an original MS-CLAP checkpoint."""
    if ref.is_local:
        checkpoint = _local_checkpoint(Path(ref.location))
        if checkpoint is None:
            return ref
        return _convert_local(ref, checkpoint)
    if ref.location.lower() == HUB_REPO:
        return _convert_hub(ref)
    return ref


def _local_checkpoint(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() in CHECKPOINT_SUFFIXES else None
    if path.is_dir() and not (path / "config.json").is_file() and (path / HUB_FILE).is_file():
        return path / HUB_FILE
    return None


def _convert_local(ref: ModelRef, checkpoint: Path) -> ModelRef:
    stat = checkpoint.stat()
    # Keyed by path, size and mtime: a changed file is converted again, an unchanged one never.
    key = hashlib.sha256(f"{checkpoint.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = converted_root() / f"{checkpoint.stem}-{key}"
    if not (target / "config.json").is_file():
        _convert(checkpoint, target, _nearby_tokenizer(checkpoint) or "gpt2")
    return ModelRef(ref.name, str(target), True)


def _convert_hub(ref: ModelRef) -> ModelRef:
    from clapcli.models.hub import fetch_file

    target = converted_root() / HUB_REPO.replace("/", "--")
    if not (target / "config.json").is_file():
        checkpoint = fetch_file(ref, HUB_FILE)
        _convert(checkpoint, target, "gpt2")
    return ModelRef(ref.name, str(target), True)


def _nearby_tokenizer(checkpoint: Path) -> str | None:
    """A GPT-2 tokenizer saved next to the checkpoint (lets offline users skip the hub)."""
    folder = checkpoint.parent
    return str(folder) if any((folder / name).is_file() for name in TOKENIZER_FILES) else None


def _convert(checkpoint: Path, target: Path, tokenizer: str) -> None:
    from clapcli.models.conversion import TokenizerUnavailable, convert_checkpoint

    log.info("converting original MS-CLAP checkpoint %s once into %s", checkpoint, target)
    try:
        convert_checkpoint("msclap", checkpoint, target, tokenizer=tokenizer, overwrite=True)
    except TokenizerUnavailable:
        raise ModelLoadError(
            f"MS-CLAP needs the GPT-2 tokenizer ('{tokenizer}'), which is not available offline; run "
            f"'clap convert msclap {checkpoint} DIR --tokenizer ./gpt2' and pass DIR with --model"
        ) from None
