"""What a conversion reports (shared by every recipe's driver)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ConversionReport:
    family: str
    source: str
    output: str
    parameters: dict[str, int]
    mapped_keys: int
    dropped_keys: list[str]
    dropped_patterns: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def quiet_transformers() -> None:
    """save_pretrained's shard progress bar would garble stderr, where the report and one-line errors go."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
