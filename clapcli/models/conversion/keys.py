"""Original key -> Hugging Face key, driven by a recipe's prefix rules and dropped patterns.

Every key of the original is accounted for: renamed, or matched by an "intentionally dropped"
pattern. Anything else, and any key the target model needs but the checkpoint lacks, is an error:
nothing is loaded with a silent ``strict=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clapcli.errors import ModelLoadError


@dataclass(frozen=True)
class PrefixRule:
    """Keys starting with ``source`` move under ``target``; ``htsat`` marks the HTSAT audio tower,
    whose keys are also renamed one by one (both families share it)."""

    source: str
    target: str
    htsat: bool = False


# HTSAT (both families) -> transformers ClapAudioEncoder, applied to the part after the tower prefix.
HTSAT_RENAMES = [
    (r"^bn0\.", "batch_norm."),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
    (r"\.attn\.proj\.", ".attention.output.dense."),
    (r"\.attn\.relative_position_", ".attention.self.relative_position_"),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."),
]
# Recomputed by the feature extractor, or only used by HTSAT's AudioSet classifier / Swin masks.
HTSAT_DROPPED = [r"spectrogram_extractor\.", r"logmel_extractor\.", r"tscam_conv\.", r"^head\.", r"attn_mask$"]

# Buffers the target model builds itself; the original may or may not carry them.
DERIVED = [r"relative_position_index$", r"embeddings\.position_ids$", r"embeddings\.token_type_ids$"]


@dataclass
class KeyMap:
    """The outcome of mapping: tensors under their new names, and what was left out and why."""

    mapped: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    dropped_patterns: dict[str, int] = field(default_factory=dict)  # pattern -> keys it dropped


def matches(key: str, patterns: list[str] | tuple[str, ...]) -> str | None:
    """The first pattern ``key`` matches, if any."""
    return next((pattern for pattern in patterns if re.search(pattern, key)), None)


def map_keys(state: dict, prefixes: tuple[PrefixRule, ...], dropped: tuple[str, ...]) -> KeyMap:
    result = KeyMap()
    for key, value in state.items():
        pattern = matches(key, dropped)
        rule = next((rule for rule in prefixes if key.startswith(rule.source)), None)
        rest = key[len(rule.source):] if rule is not None else key
        if pattern is None and rule is not None and rule.htsat:
            pattern = matches(rest, HTSAT_DROPPED)
        if pattern is not None:
            result.dropped.append(key)
            result.dropped_patterns[pattern] = result.dropped_patterns.get(pattern, 0) + 1
        elif rule is None:
            result.unknown.append(key)
        elif rule.htsat:
            _rename_htsat(rest, value, result.mapped, rule.target)
        else:
            result.mapped[rule.target + rest] = value
    return result


def _rename_htsat(rest: str, value: Any, out: dict, target_prefix: str) -> None:
    if ".attn.qkv." in rest:
        # The original fuses q, k and v in one linear; transformers keeps three.
        for name, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
            out[target_prefix + rest.replace(".attn.qkv.", f".attention.self.{name}.")] = chunk.clone()
        return
    for pattern, replacement in HTSAT_RENAMES:
        rest = re.sub(pattern, replacement, rest)
    out[target_prefix + rest] = value


def check_keys(expected: dict, keys: KeyMap, source: str, family: str, hint: str) -> None:
    """Refuse unexpected keys, missing keys and shape mismatches against the target's state dict."""
    unexpected = sorted(keys.unknown + [k for k in keys.mapped if k not in expected])
    if unexpected:
        raise ModelLoadError(
            f"checkpoint '{source}' has {len(unexpected)} unexpected key(s), e.g. '{unexpected[0]}'; "
            f"is it an original {family} checkpoint?{hint}"
        )
    missing = sorted(k for k in expected if k not in keys.mapped and matches(k, DERIVED) is None)
    if missing:
        raise ModelLoadError(
            f"checkpoint '{source}' lacks {len(missing)} key(s) the model needs, e.g. '{missing[0]}'; "
            f"is it a complete original {family} checkpoint?{hint}"
        )
    for key, value in keys.mapped.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelLoadError(
                f"checkpoint '{source}': '{key}' has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )
