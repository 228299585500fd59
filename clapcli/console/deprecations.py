"""Every old spelling clapcli still accepts, what replaced it and the release that removes it: one list,
so a release can drop them together. Each still works with one warning line (none with ``--quiet``)."""

from __future__ import annotations

from dataclasses import dataclass

REMOVED_IN = "0.3.0"  # what the warnings call the release after the one that deprecated them


@dataclass(frozen=True)
class Deprecation:
    old: str  # as the user types it
    new: str  # what to type instead
    where: str  # the commands (or the place) that accept it
    warned_by: str  # the code that rewrites it and says so
    removed_in: str = REMOVED_IN


DEPRECATIONS = (
    Deprecation("clap retrieve --text (no value)", "--as-text", "retrieve", "clapcli/cli.py (_old_spellings)"),
    Deprecation("--captions FILE", "--captions-file FILE", "retrieve", "clapcli/commands/retrieve.py"),
    Deprecation("-t SECONDS", "--seconds / -L", "generate", "clapcli/commands/generate.py (_old_short_flags)"),
    Deprecation("-c N", "--candidates / -b", "generate", "clapcli/commands/generate.py (_old_short_flags)"),
    Deprecation("--dtype float32|bfloat16|float16", "--precision exact|bfloat16|float16", "every model command",
                "clapcli/models/precision.py (legacy_precision)"),
    Deprecation("--quantize int8", "--precision int8", "every model command",
                "clapcli/models/precision.py (legacy_precision)"),
    Deprecation("skip_failures=True (Python API: drops failed inputs)", "failures='keep' (a FailedInput in place)",
                "clapcli.embed_audio, embed_images, classify", "clapcli/api.py (_collect)"),
    Deprecation("--model music", "--model clap-music (LAION) or audioldm2-music (generate)", "every model command",
                "clapcli/models/hub.py (ambiguous aliases, clapcli/models/registry.py)"),
)


def files_that_warn() -> set[str]:
    """The source files named by ``warned_by`` (a test checks that every removal warning comes from one of them)."""
    return {part.split(" ")[0] for d in DEPRECATIONS for part in d.warned_by.split(", ")} | {
        "clapcli/models/registry.py", "clapcli/console/options.py"}
