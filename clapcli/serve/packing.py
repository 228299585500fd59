"""Text queries of a batch embedded without padding: the sequences packed into one row.

A batch of 32 short queries padded to its longest (``core.text.encode_texts``) spends 15-45% of
the forward pass on pad tokens. For LAION CLAP's RoBERTa text tower the server packs the batch's
tokens end to end into one sequence instead, with each text's own position ids (restarting at
``padding_idx + 1``, as a padded row has them) and a block-diagonal attention mask, so no token sees
another text's tokens; each text's first token then goes through the pooler and the projection.
That is the same computation as the padded batch, minus the pads (equal within float rounding,
checked by the tests), and for one text it is exactly the unpadded forward. Packs hold at most
``PACK_TOKENS`` tokens, so the (tokens x tokens) mask stays small. Other text towers (MS-CLAP's
GPT-2, AltCLIP) go through ``encode_texts`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clapcli.core.text import encode_texts, l2_normalize
from clapcli.errors import UsageError

PACK_TOKENS = 512  # tokens per packed forward pass at most (a longer single text goes alone)


def encode_queries(model: Any, texts: Sequence[str]) -> np.ndarray:
    """(len(texts), dim) unit vectors, as ``encode_texts`` gives them."""
    if not _packable(model):
        return encode_texts(model, list(texts))
    for text in texts:
        if not text.strip():
            raise UsageError("an empty text or label was given; remove it or write something")
    ids = model.tokenizer(list(texts), truncation=True)["input_ids"]
    out = np.zeros((len(texts), model.embedding_dim), dtype=np.float32)
    for pack in _packs([len(row) for row in ids]):
        out[pack] = _forward(model, [ids[i] for i in pack])
    return l2_normalize(out)


def _packable(model: Any) -> bool:
    network = getattr(model, "network", None)
    text_model = getattr(network, "text_model", None)
    return (type(text_model).__name__ == "ClapTextModel" and getattr(text_model, "pooler", None) is not None
            and getattr(model, "tokenizer", None) is not None)


def _packs(lengths: list[int]) -> list[list[int]]:
    """Indices grouped in order into packs of at most PACK_TOKENS tokens (at least one text each)."""
    packs: list[list[int]] = [[]]
    total = 0
    for index, length in enumerate(lengths):
        if packs[-1] and total + length > PACK_TOKENS:
            packs.append([])
            total = 0
        packs[-1].append(index)
        total += length
    return packs


def _forward(model: Any, rows: list[list[int]]) -> np.ndarray:
    import torch

    text_model = model.network.text_model
    lengths = [len(row) for row in rows]
    first = text_model.embeddings.padding_idx + 1  # RoBERTa numbers positions from padding_idx + 1
    with torch.inference_mode():
        input_ids = torch.tensor([[token for row in rows for token in row]], device=model.device)
        positions = torch.cat([torch.arange(first, first + n) for n in lengths])[None].to(model.device)
        owner = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor(lengths)).to(model.device)
        dtype = text_model.embeddings.word_embeddings.weight.dtype
        mask = torch.zeros((len(owner), len(owner)), dtype=dtype, device=model.device)
        mask.masked_fill_(owner[:, None] != owner[None, :], torch.finfo(dtype).min)  # additive: eager and sdpa
        hidden = text_model(input_ids=input_ids, attention_mask=mask[None, None], position_ids=positions,
                            token_type_ids=torch.zeros_like(input_ids)).last_hidden_state[0]
        starts = torch.tensor([0, *lengths[:-1]]).cumsum(0).to(model.device)
        pooled = text_model.pooler(hidden[starts][:, None])  # the pooler reads each text's first token
        return model.network.text_projection(pooled).float().cpu().numpy()
