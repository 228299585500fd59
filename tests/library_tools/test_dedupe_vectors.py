"""Dedupe against hand-built vectors at known similarities (random weights collapse: two unrelated
synthetic sounds can score 0.9998 with a random CLAP, so thresholds are tested on vectors we choose)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from clapcli.core.chromaprint import SAME_RECORDING, similarity
from clapcli.core.dedupe import DedupeItem, DedupeOptions, candidate_pairs, durations_agree, find_duplicates
from clapcli.core.keeper import FileQuality
from clapcli.errors import InvalidField

DIM = 32


def _at(base: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector whose cosine with ``base`` (unit) is exactly ``cosine``."""
    other = np.random.default_rng(seed).standard_normal(base.shape[0])
    other -= (other @ base) * base
    other /= np.linalg.norm(other)
    return (cosine * base + np.sqrt(1 - cosine**2) * other).astype(np.float32)


def _quality(path: str, duration: float | None) -> FileQuality:
    return FileQuality("WAV PCM_16" if path.endswith(".wav") else "OGG VORBIS", path.endswith(".wav"), 44100, 16,
                       duration)


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _groups(report) -> list[list[str]]:
    return [[m.path for m in g.members] for g in report.groups]


def test_pairs_above_the_threshold_group_and_below_do_not() -> None:
    a = _unit(1)
    vectors = np.stack([a, _at(a, 0.995, 2), _at(a, 0.975, 3), _unit(4)])
    items = [DedupeItem(p, 5.0) for p in ("a.wav", "a-copy.ogg", "a-alike.ogg", "other.wav")]
    report = find_duplicates(items, vectors, DedupeOptions(threshold=0.98), quality=_quality)
    assert _groups(report) == [["a.wav", "a-copy.ogg"]]
    assert report.groups[0].members[1].similarity == pytest.approx(0.995, abs=1e-5)
    looser = find_duplicates(items, vectors, DedupeOptions(threshold=0.97), quality=_quality)
    assert _groups(looser) == [["a.wav", "a-alike.ogg", "a-copy.ogg"]]


def test_duration_rejects_a_pair_beyond_the_tolerance() -> None:
    a = _unit(1)
    vectors = np.stack([a, _at(a, 0.999, 2), _at(a, 0.999, 3)])
    items = [DedupeItem("a.wav", 10.0), DedupeItem("trimmed.wav", 9.7), DedupeItem("longer.wav", 11.0)]
    report = find_duplicates(items, vectors, DedupeOptions(duration_tolerance=0.5), quality=_quality)
    assert _groups(report) == [["a.wav", "trimmed.wav"]]  # kept first: the longer of two equal-quality files
    assert report.groups[0].members[0].keep and "longer (10.00 s over 9.70 s)" in report.groups[0].members[0].reason
    assert report.rejected["duration"] == 2  # a/longer and trimmed/longer
    assert durations_agree(1.0, 1.04, 0.5) and not durations_agree(1.0, 1.06, 0.5)  # 5% of a short file
    assert durations_agree(None, 3.0, 0.5)


def test_fingerprints_veto_and_missing_ones_do_not() -> None:
    frames = np.random.default_rng(0).integers(0, 2**32, 40, dtype=np.uint64).astype(np.uint32)
    other = np.random.default_rng(1).integers(0, 2**32, 40, dtype=np.uint64).astype(np.uint32)
    prints = {"a.wav": frames, "copy.ogg": frames.copy(), "impostor.wav": other, "short.wav": None}
    a = _unit(1)
    vectors = np.stack([a, _at(a, 0.999, 2), _at(a, 0.9999, 3), _at(a, 0.999, 4)])
    items = [DedupeItem(p, 6.0) for p in prints]
    report = find_duplicates(items, vectors, DedupeOptions(), fingerprinter=prints.__getitem__,
                             backend="fake", quality=_quality)
    assert _groups(report) == [["a.wav", "copy.ogg", "short.wav"]]
    kept = {m.path: m.fingerprint for m in report.groups[0].members}
    assert kept == {"a.wav": 1.0, "copy.ogg": 1.0, "short.wav": None}
    # the impostor against a and its copy; short.wav (no fingerprint) joined a's group first, so it cannot
    # bridge the impostor into it
    assert report.rejected["fingerprint"] == 2 and report.rejected["group"] == 1


def test_similarity_of_fingerprints() -> None:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 2**32, 60, dtype=np.uint64).astype(np.uint32)
    assert similarity(frames, frames) == 1.0
    assert similarity(frames, frames[3:]) == 1.0  # trimmed: aligned at an offset
    unrelated = similarity(frames, rng.integers(0, 2**32, 60, dtype=np.uint64).astype(np.uint32))
    assert unrelated < SAME_RECORDING and abs(unrelated - 0.5) < 0.1
    assert similarity(frames, None) is None


def test_candidates_equal_a_brute_force_pass() -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((300, DIM)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    copies = np.stack([_at(base[i], c, 100 + i) for i, c in zip(range(0, 60, 3), np.linspace(0.95, 0.999, 20),
                                                                  strict=True)])
    vectors = np.concatenate([base, copies])
    brute = {(i, j) for i, j in itertools.combinations(range(len(vectors)), 2) if vectors[i] @ vectors[j] >= 0.97}
    found = {(i, j) for i, j, _ in candidate_pairs(vectors, 0.97, neighbours=len(vectors))}
    assert found == brute and len(brute) > 5


def test_options_are_checked() -> None:
    with pytest.raises(InvalidField, match="threshold"):
        DedupeOptions(threshold=1.5).check()
    with pytest.raises(InvalidField, match="neighbours"):
        DedupeOptions(neighbours=0).check()


def test_approximate_candidates_find_the_planted_copies() -> None:
    """Above 20,000 rows the in-memory index is IVF (clusters probed, not every row): planted copies at
    cosine >= 0.99 still come out, as with the exact pass."""
    pytest.importorskip("faiss")
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((400, 16)).astype(np.float32)
    base = centres[rng.integers(0, 400, 24_000)] + 0.5 * rng.standard_normal((24_000, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    sources = rng.choice(24_000, 50, replace=False)
    copies = np.stack([_at(base[i], 0.995, int(i)) for i in sources])
    vectors = np.ascontiguousarray(np.concatenate([base, copies]))
    planted = {(int(i), 24_000 + n) for n, i in enumerate(sources)}
    exact = {(i, j) for i, j, _ in candidate_pairs(vectors, 0.99, 10)}
    approximate = {(i, j) for i, j, _ in candidate_pairs(vectors, 0.99, 10, approximate=True)}
    assert planted <= exact and planted <= approximate
