"""Finding checkpoint files: local directories, hub ids and aliases, with the offline rules.

Every failure becomes a one-line ``ModelLoadError`` that says what to do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError

# A real tokenizer for these families has tens of thousands of entries; transformers can
# silently hand back a 5-token one when the files are missing (DESIGN.md §5).
MIN_TOKENIZER_SIZE = 100


class FileMissing(ModelLoadError):
    """The checkpoint exists but lacks this file."""


class NotCached(ModelLoadError):
    """Offline (or the hub is unreachable) and the file is not in the local cache."""


@dataclass(frozen=True)
class ModelRef:
    """Where a model lives: ``name`` as the user gave it, ``location`` a hub id or a local dir."""

    name: str
    location: str
    is_local: bool

    @property
    def model_id(self) -> str:
        """The id recorded in outputs: the hub id, or the resolved local path."""
        return self.location


def resolve_ref(name: str, aliases: dict[str, str]) -> ModelRef:
    """Alias -> hub id; an existing path -> local directory; anything else -> hub id."""
    name = name.strip()
    if not name:
        raise ModelLoadError("--model is empty; pass a hub id, an alias (see 'clap models') or a local directory")
    path = Path(name).expanduser()
    if path.exists():
        return ModelRef(name, str(path.resolve()), True)
    if name in aliases:
        return ModelRef(name, aliases[name], False)
    if name.startswith((".", "/", "~")) or os.sep in name.rstrip("/").split("/", 1)[-1]:
        raise ModelLoadError(f"model directory '{name}' does not exist; pass an existing directory or a hub id")
    if name.count("/") != 1:
        raise ModelLoadError(
            f"model '{name}' is neither an alias, a local directory nor a hub id (owner/name); run 'clap models'"
        )
    return ModelRef(name, name, False)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def fetch_file(ref: ModelRef, filename: str, required: bool = True) -> Path | None:
    """Path of ``filename`` in the checkpoint, downloading from the hub when allowed."""
    if ref.is_local:
        path = Path(ref.location) / filename
        if path.is_file():
            return path
        if required:
            raise FileMissing(f"model directory '{ref.location}' has no {filename}; is it a complete checkpoint?")
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        return Path(hf_hub_download(ref.location, filename))
    except LocalEntryNotFoundError:  # a subclass of EntryNotFoundError: must come first
        raise NotCached(
            f"model '{ref.location}' is not in the local cache and the hub cannot be reached; "
            "pass a local directory with --model"
        ) from None
    except EntryNotFoundError:
        if required:
            raise FileMissing(f"model '{ref.location}' has no {filename} on the hub") from None
        return None
    except GatedRepoError:
        raise ModelLoadError(
            f"model '{ref.location}' is gated; accept its terms on the hub and run 'hf auth login'"
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"model '{ref.location}' was not found on the hub; check the id or run 'clap models'"
        ) from None
    except OSError as exc:  # network failures surface as requests/httpx OSErrors
        raise ModelLoadError(
            f"model '{ref.location}' could not be downloaded ({type(exc).__name__}); "
            "check the network or pass a local directory with --model"
        ) from None


def read_config(ref: ModelRef) -> dict:
    """The parsed ``config.json`` or, for pipelines, ``model_index.json``."""
    not_cached = False
    for filename in ("config.json", "model_index.json"):
        try:
            path = fetch_file(ref, filename, required=True)
        except FileMissing:
            continue
        except NotCached:
            not_cached = True
            continue
        try:
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"model '{ref.location}': {filename} is unreadable ({exc}); re-download it") from None
    if not_cached:
        raise ModelLoadError(
            f"model '{ref.location}' is not in the local cache and the hub cannot be reached; "
            "pass a local directory with --model"
        )
    where = "directory" if ref.is_local else "model"
    raise ModelLoadError(
        f"{where} '{ref.location}' has no config.json or model_index.json; is it a Hugging Face checkpoint?"
    )


def checkpoint_dir(ref: ModelRef) -> str:
    """A directory (or hub id) to hand to ``from_pretrained``."""
    return ref.location


def check_tokenizer(tokenizer, ref: ModelRef) -> None:
    """Refuse the silent placeholder tokenizer transformers returns when files are missing."""
    size = len(tokenizer)
    if size < MIN_TOKENIZER_SIZE:
        raise ModelLoadError(
            f"model '{ref.location}': its tokenizer has only {size} tokens (files missing or not cached); "
            "pass a complete local directory with --model"
        )


def load_pretrained(ref: ModelRef, preprocessor_class: Any, model_class: Any, device: Any, dtype: Any) -> tuple:
    """(tokenizer, preprocessor, network in eval mode on ``device``) for a standard checkpoint directory."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.location)
        preprocessor = preprocessor_class.from_pretrained(ref.location)
        network = model_class.from_pretrained(ref.location, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise wrap_load_error(ref, exc) from None
    check_tokenizer(tokenizer, ref)
    network.to(device).eval()
    return tokenizer, preprocessor, network


def wrap_load_error(ref: ModelRef, exc: BaseException) -> ModelLoadError:
    """One line for an exception raised inside ``from_pretrained``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(text) > 200:
        text = text[:200] + "..."
    return ModelLoadError(f"model '{ref.location}' could not be loaded: {text}")
