"""The tokenizer a converted checkpoint is saved with, checked against the checkpoint's vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError
from clapcli.models import hub


class TokenizerUnavailable(ModelLoadError):
    """The tokenizer could not be loaded, or came back as transformers' silent placeholder (docs/design.md §3)."""


def load_tokenizer(name: str, vocab_size: int, expected: str) -> Any:
    """The tokenizer ``name`` (a directory or hub id); ``expected`` names the right one in messages."""
    from transformers import AutoTokenizer

    path = Path(name).expanduser()
    if not path.exists():
        hub.hub_reachable()  # a silent hub turns the run offline in seconds instead of minutes of retries
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path) if path.exists() else name)
    except Exception as exc:  # noqa: BLE001 - any failure here means "tokenizer unavailable"
        where = "offline and not cached" if hub.offline() else type(exc).__name__
        raise TokenizerUnavailable(
            f"tokenizer '{name}' could not be loaded ({where}); pass a local {expected} "
            "tokenizer directory with --tokenizer"
        ) from None
    size = len(tokenizer)
    if size < hub.MIN_TOKENIZER_SIZE or size > vocab_size:  # the one guard, shared with loading
        raise TokenizerUnavailable(
            f"tokenizer '{name}' has {size} tokens but the checkpoint's vocabulary has {vocab_size}; "
            f"pass the matching {expected} tokenizer with --tokenizer"
        )
    return tokenizer
