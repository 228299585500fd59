"""Architecture sizes read from an original checkpoint's tensor shapes.

Attention head counts, which shapes do not carry, come from the Swin bias tables (audio) and from
"head size 64" (text, true for GPT-2 and RoBERTa-base), unless ``heads`` is given.
"""

from __future__ import annotations

import math
import re
from typing import Any

from clapcli.errors import ModelLoadError


def require(state: dict, key: str, source: str) -> Any:
    """``state[key]``, or a one-line error naming the checkpoint and the missing key."""
    if key not in state:
        raise ModelLoadError(f"checkpoint '{source}' is missing key '{key}'")
    return state[key]


def rows(state: dict, key: str, source: str) -> int:
    """The first dimension of ``state[key]`` (output features of a linear, entries of an embedding)."""
    return int(require(state, key, source).shape[0])


def _count(state: dict, pattern: str) -> int:
    indices = {int(m.group(1)) for key in state if (m := re.match(pattern, key))}
    return max(indices) + 1 if indices else 0


def infer_htsat(state: dict, prefix: str, source: str) -> dict:
    """ClapAudioConfig fields from an original HTSAT's shapes (both families use the same tower)."""
    embed = rows(state, f"{prefix}patch_embed.proj.weight", source)
    n_layers = _count(state, re.escape(prefix) + r"layers\.(\d+)\.")
    if n_layers == 0:
        raise ModelLoadError(f"checkpoint '{source}' has no HTSAT layers under '{prefix}'")
    depths, heads = [], []
    for i in range(n_layers):
        depths.append(_count(state, re.escape(f"{prefix}layers.{i}.blocks.") + r"(\d+)\."))
        table = require(state, f"{prefix}layers.{i}.blocks.0.attn.relative_position_bias_table", source)
        heads.append(int(table.shape[1]))
    table_rows = state[f"{prefix}layers.0.blocks.0.attn.relative_position_bias_table"].shape[0]
    window = (int(round(math.sqrt(table_rows))) + 1) // 2  # the table has (2 * window - 1) ** 2 rows
    return {
        "patch_embeds_hidden_size": embed,
        "depths": depths,
        "num_attention_heads": heads,
        "window_size": window,
        "mlp_ratio": float(rows(state, f"{prefix}layers.0.blocks.0.mlp.fc1.weight", source) / embed),
        "num_mel_bins": rows(state, f"{prefix}bn0.weight", source),
        "hidden_size": int(embed * 2 ** (n_layers - 1)),
        "num_hidden_layers": n_layers,
    }


def infer_gpt2(state: dict, prefix: str, source: str, heads: int | None) -> dict:
    """GPT2Config fields (MS-CLAP's text tower)."""
    wte = require(state, f"{prefix}wte.weight", source)
    n_embd = int(wte.shape[1])
    c_fc = require(state, f"{prefix}h.0.mlp.c_fc.weight", source)  # Conv1D: (in, out)
    return {
        "vocab_size": int(wte.shape[0]),
        "n_positions": rows(state, f"{prefix}wpe.weight", source),
        "n_embd": n_embd,
        "hidden_size": n_embd,
        "num_hidden_layers": _count(state, re.escape(prefix) + r"h\.(\d+)\."),
        "num_attention_heads": heads or max(1, n_embd // 64),
        "n_inner": None if c_fc.shape[1] == 4 * n_embd else int(c_fc.shape[1]),
    }


def infer_roberta(state: dict, prefix: str, source: str, heads: int | None) -> dict:
    """RobertaConfig fields (LAION's text tower)."""
    words = require(state, f"{prefix}embeddings.word_embeddings.weight", source)
    hidden = int(words.shape[1])
    return {
        "vocab_size": int(words.shape[0]),
        "hidden_size": hidden,
        "num_hidden_layers": _count(state, re.escape(prefix) + r"encoder\.layer\.(\d+)\."),
        "num_attention_heads": heads or max(1, hidden // 64),
        "intermediate_size": rows(state, f"{prefix}encoder.layer.0.intermediate.dense.weight", source),
        "max_position_embeddings": rows(state, f"{prefix}embeddings.position_embeddings.weight", source),
        "type_vocab_size": rows(state, f"{prefix}embeddings.token_type_embeddings.weight", source),
        # roberta-base's values, which LAION's text tower is built from
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
    }
