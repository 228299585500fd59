"""The server's batched fast paths give what the CLI's code gives: packed text batches equal padded
ones, and the chunked block-wise ``exact_top_k`` (numpy or torch product) equals a full sort."""

from __future__ import annotations

import numpy as np
import pytest

from clapcli.core import search
from clapcli.core.search import exact_top_k
from clapcli.core.text import encode_texts, l2_normalize
from clapcli.errors import UsageError
from clapcli.serve import packing, topk

TEXTS = ["rain", "a dog barking in the distance", "soft piano with vinyl crackle and a little tape hiss", "x",
         "rain", "footsteps on gravel, then a door creaks open slowly and somebody coughs twice"]


def test_packed_batch_equals_padded_batch(loaded_clap) -> None:
    assert packing._packable(loaded_clap)
    got = packing.encode_queries(loaded_clap, TEXTS)
    np.testing.assert_allclose(got, encode_texts(loaded_clap, TEXTS), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    for text in TEXTS[:3]:  # one text alone: the plain unpadded forward
        np.testing.assert_allclose(packing.encode_queries(loaded_clap, [text]), encode_texts(loaded_clap, [text]),
                                   atol=1e-6)


def test_batches_over_the_token_budget_are_split_into_packs(loaded_clap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packing, "PACK_TOKENS", 12)
    lengths = [len(ids) for ids in loaded_clap.tokenizer(TEXTS, truncation=True)["input_ids"]]
    packs = packing._packs(lengths)
    assert len(packs) > 2 and sorted(i for pack in packs for i in pack) == list(range(len(TEXTS)))
    assert all(len(pack) == 1 or sum(lengths[i] for i in pack) <= 12 for pack in packs)
    np.testing.assert_allclose(packing.encode_queries(loaded_clap, TEXTS), encode_texts(loaded_clap, TEXTS),
                               atol=1e-5)


def test_empty_texts_are_refused_and_other_towers_use_encode_texts(loaded_clap) -> None:
    with pytest.raises(UsageError, match="empty text"):
        packing.encode_queries(loaded_clap, ["rain", "  "])

    class OtherTower:
        embedding_dim = 3

        def encode_text(self, texts):
            import torch

            return torch.tensor([[len(t), 1.0, 0.0] for t in texts])

    got = packing.encode_queries(OtherTower(), ["ab", "abcd"])
    np.testing.assert_allclose(got, l2_normalize(np.array([[2, 1, 0], [4, 1, 0]], dtype=np.float32)))


def brute_top_k(vectors: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every score, fully sorted: the reference for the chunked, block-wise selection."""
    scores = q.astype(np.float64) @ vectors.T.astype(np.float64)
    rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, rows, axis=1), rows


@pytest.mark.parametrize("rows,queries,k", [(100_000, 32, 10), (5_003, 1, 10), (5_003, 7, 37), (130, 3, 5),
                                            (9, 2, 20), (1, 1, 1)])
def test_exact_top_k_equals_a_full_sort_with_numpy_and_torch_products(rows: int, queries: int, k: int) -> None:
    rng = np.random.default_rng(rows + queries)
    vectors = l2_normalize(rng.standard_normal((rows, 24), dtype=np.float32))
    q = l2_normalize(rng.standard_normal((queries, 24), dtype=np.float32))
    want_scores, want_rows = brute_top_k(vectors, q, k)
    for scores_of in (None, search.numpy_scores, topk.torch_scores):
        got_scores, got_rows = exact_top_k(vectors, q, k, scores_of)
        np.testing.assert_array_equal(got_rows, want_rows)
        np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)


def test_exact_top_k_in_chunks_and_with_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    vectors = l2_normalize(rng.standard_normal((20_000, 16), dtype=np.float32))
    q = l2_normalize(rng.standard_normal((4, 16), dtype=np.float32))
    monkeypatch.setattr(search, "SCORES_IN_FLIGHT", 4 * 3000)  # chunks of 3000 rows (at least BLOCK * k * 4)
    np.testing.assert_array_equal(exact_top_k(vectors, q, 10)[1], brute_top_k(vectors, q, 10)[1])
    # Many equal scores spread over every block: the k best values are still found.
    tied = np.tile(vectors[:5], (2000, 1))
    got_scores, got_rows = exact_top_k(tied, q, 12)
    want_scores, _ = brute_top_k(tied, q, 12)
    np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(q @ tied.T, got_rows, axis=1), got_scores, atol=1e-6)
    assert all(len(set(row)) == 12 for row in got_rows.tolist())
