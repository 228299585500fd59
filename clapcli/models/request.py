"""What to load, said once: a ``LoadRequest`` parses the user's runtime, precision and long-audio choices
into checked values, so the layers below read values and never re-parse flag strings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from clapcli import settings
from clapcli.errors import InvalidField, UsageError
from clapcli.models.base import LONG_AUDIO_STRATEGIES

TASKS = ("embed", "generate")
RUNTIMES = settings.RUNTIME_CHOICES
PRECISIONS = ("exact", "fast", "bfloat16", "float16", "int8")
QUANTIZE_CHOICES = ("none", "int8")


@dataclass(frozen=True)
class LoadRequest:
    """A model to load and how: ``name`` (alias, hub id, local directory or export; None: the default),
    the task ("embed": contrastive models, "generate": AudioLDM 2), where it runs and in what precision."""

    name: str | None = None
    task: str = "embed"
    device: str = "auto"
    dtype: str = "auto"
    long_audio: str | None = None
    runtime: str | None = None  # None: the default (CLAPCLI_RUNTIME, else auto); an export directory runs its own
    precision: str | None = None  # None: exact
    quantize: str | None = None  # "int8": torch's dynamic int8 (the older spelling of precision int8)
    cpu_offload: bool = False  # generation: components moved to the GPU one at a time
    job_size: int | None = None  # inputs the job will encode (None: unknown): auto exports only for big jobs
    on_export_step: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, allowed in (("runtime", RUNTIMES), ("precision", PRECISIONS), ("quantize", QUANTIZE_CHOICES)):
            value = getattr(self, name)
            if value is not None:
                value = str(value).strip().lower()
                object.__setattr__(self, name, value)
                if value not in allowed:
                    raise _unknown(name, getattr(self, name), allowed)
        if self.task not in TASKS:
            raise UsageError(f"task {self.task!r}: choose one of {', '.join(TASKS)}")
        if self.long_audio is not None and self.long_audio not in LONG_AUDIO_STRATEGIES:
            raise InvalidField("long_audio", "{long_audio} {value!r}: choose one of {choices}", value=self.long_audio,
                               choices=", ".join(LONG_AUDIO_STRATEGIES))
        if self.job_size is not None and self.job_size < 0:
            raise InvalidField("job_size", "{job_size} must be at least 0, not {value}", value=self.job_size)
        if self.quantize == "none":
            object.__setattr__(self, "quantize", None)

    @property
    def wants_int8(self) -> bool:
        return self.precision == "int8" or self.quantize == "int8"

    def but(self, **changes: Any) -> LoadRequest:
        """A copy with ``changes`` (checked again)."""
        return replace(self, **changes)

    def backend_options(self) -> dict[str, Any]:
        """What the family's loader takes beyond ref, config, device and dtype."""
        return {"long_audio": self.long_audio} if self.task == "embed" else {"cpu_offload": self.cpu_offload}


def _unknown(field: str, value: str, allowed: tuple[str, ...]) -> InvalidField:
    more = " (exact: float32; fast: bfloat16 where the CPU has it)" if field == "precision" else ""
    return InvalidField(field, f"{{{field}}} {{value!r}}: choose one of {{choices}}{more}", value=value,
                        choices=", ".join(allowed))

