"""The probe against scikit-learn on the same embeddings; save/load; each refusal; the zero-shot fallback."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from clapcli.core.probe.fit import check_targets, fit_probe
from clapcli.core.probe.model import Probe, ProbeError
from clapcli.core.probe.store import load_probe, save_probe
from clapcli.core.text import l2_normalize
from clapcli.errors import UsageError

NAMES = ["a", "b", "c", "d", "e"]


def _clusters(seed: int, n: int, k: int = 5, d: int = 32, spread: float = 0.35):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    return centers, (centers[y] * spread + rng.normal(size=(n, d))).astype(np.float32), y


def _probe(fitted, names=NAMES, multi=False) -> Probe:
    return Probe(list(names), fitted.weights, fitted.bias, multi, {"model": {"id": "m"}})


@pytest.mark.parametrize("k", [2, 5])
def test_predictions_equal_scikit_learn(k):
    centers, X, y = _clusters(0, 300, k)
    _, Xt, _ = _clusters(1, 200, k)
    names = NAMES[:k]
    fitted = fit_probe(X, y, names, np.random.default_rng(9).normal(size=(k, 32)), 100.0, C=1.0, blend=0.0)
    reference = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit(l2_normalize(X).astype(np.float64), y)
    expected = reference.predict_proba(l2_normalize(Xt).astype(np.float64))
    probe = _probe(fitted, names)
    np.testing.assert_allclose(probe.probabilities(Xt), expected, atol=2e-6)
    assert (probe.predict(Xt) == reference.predict(l2_normalize(Xt).astype(np.float64))).all()


def test_cross_validated_probe_at_least_scikit_learn_when_zero_shot_is_at_chance():
    for seed in range(3):
        centers, X, y = _clusters(seed, 200)
        rng = np.random.default_rng(seed + 50)
        yt = rng.integers(0, 5, 500)
        Xt = (centers[yt] * 0.35 + rng.normal(size=(500, 32))).astype(np.float32)
        fitted = fit_probe(X, y, NAMES, rng.normal(size=(5, 32)), 100.0)  # random prompts: zero-shot at chance
        reference = LogisticRegression(max_iter=1000).fit(l2_normalize(X), y)
        ours = float((_probe(fitted).predict(Xt) == yt).mean())
        assert ours >= float((reference.predict(l2_normalize(Xt)) == yt).mean())
        assert ours > 0.5 and fitted.blend < 1.0 and fitted.folds == 5


def test_multi_label_is_one_vs_rest_scikit_learn():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 16)).astype(np.float32)
    Y = (X[:, :3] > 0).astype(np.int64)
    fitted = fit_probe(X, Y, ["x", "y", "z"], rng.normal(size=(3, 16)), 50.0, multi_label=True, C=1.0, blend=0.0)
    probe = _probe(fitted, ["x", "y", "z"], multi=True)
    unit = l2_normalize(X).astype(np.float64)
    for column in range(3):
        reference = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit(unit, Y[:, column])
        np.testing.assert_allclose(probe.probabilities(X)[:, column], reference.predict_proba(unit)[:, 1], atol=2e-6)


def test_blend_never_below_zero_shot_on_mislabelled_noise():
    for seed in range(5):
        centers, _, _ = _clusters(seed, 10)
        rng = np.random.default_rng(seed + 100)
        noise, wrong = rng.normal(size=(150, 32)).astype(np.float32), rng.integers(0, 5, 150)
        fitted = fit_probe(noise, wrong, NAMES, centers, 100.0)  # prompts = the true class centres
        yt = rng.integers(0, 5, 300)
        Xt = (centers[yt] * 0.35 + rng.normal(size=(300, 32))).astype(np.float32)
        zero_shot = float((np.argmax(l2_normalize(Xt) @ l2_normalize(centers).T, axis=1) == yt).mean())
        assert fitted.blend == 1.0, seed  # fell back to the text prototypes
        assert float((_probe(fitted).predict(Xt) == yt).mean()) >= zero_shot


def test_one_example_per_class_uses_the_documented_defaults():
    centers, X, y = _clusters(4, 5)
    fitted = fit_probe(X, y, NAMES, centers, 100.0)
    assert (fitted.folds, fitted.C, fitted.blend, fitted.cv_score) == (0, 1.0, 0.5, None)


def test_save_load_round_trip_is_exact(tmp_path):
    centers, X, y = _clusters(5, 60)
    fitted = fit_probe(X, y, NAMES, centers, 100.0)
    probe = Probe(NAMES, fitted.weights, fitted.bias, False, {"model": {"id": "m", "revision": None}, "x": [1, 2]})
    save_probe(probe, tmp_path / "p")
    again = load_probe(tmp_path / "p")
    assert again.classes == NAMES and again.multi_label is False and again.manifest["x"] == [1, 2]
    assert again.weights.dtype == np.float32 and np.array_equal(again.weights, probe.weights)
    assert np.array_equal(again.bias, probe.bias)
    assert np.array_equal(again.probabilities(X), probe.probabilities(X))
    with pytest.raises(Exception, match="already holds a probe; add --overwrite"):
        save_probe(probe, tmp_path / "p")
    save_probe(probe, tmp_path / "p", overwrite=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    with pytest.raises(Exception, match="not written by clap train"):
        save_probe(probe, tmp_path / "notes", overwrite=True)


def test_refusals_are_one_line(tmp_path):
    probe = Probe(["a", "b"], np.zeros((2, 4), np.float32), np.zeros(2, np.float32), False, {"model": {"id": "m"}})
    cases = [
        (lambda: probe.check_model("other", 4), ProbeError, "trained on 'm', not 'other'"),
        (lambda: probe.check_model("m", 8), ProbeError, "expects 4-dimensional embeddings"),
        (lambda: probe.logits(np.zeros((1, 8))), ProbeError, "expects 4-dimensional"),
        (lambda: probe.class_indices(["a", "zebra"]), UsageError, "'zebra' is not a class of the probe"),
        (lambda: check_targets(np.zeros(4, np.int64), ["only"], False), ProbeError, "a probe needs at least two"),
        (lambda: check_targets(np.array([0, 0]), ["a", "b"], False), ProbeError, "class 'b' has no training"),
        (lambda: load_probe(tmp_path), ProbeError, "not a probe directory"),
        (lambda: load_probe(tmp_path / "nope"), ProbeError, "no such directory"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


def test_fit_runs_blas_on_one_thread_and_restores_the_pools(monkeypatch):
    """Small products on a busy machine: the pools' threads waiting for each other cost 20x (docs/probes.md)."""
    from threadpoolctl import threadpool_info

    seen = []
    original = LogisticRegression.fit

    def spy(self, *args, **kwargs):
        seen.append({pool["user_api"]: pool["num_threads"] for pool in threadpool_info()})
        return original(self, *args, **kwargs)

    before = {pool["user_api"]: pool["num_threads"] for pool in threadpool_info()}
    monkeypatch.setattr(LogisticRegression, "fit", spy)
    centers, X, y = _clusters(6, 60)
    fit_probe(X, y, NAMES, centers, 100.0)
    assert seen and all(threads == 1 for pools in seen for threads in pools.values())
    assert {pool["user_api"]: pool["num_threads"] for pool in threadpool_info()} == before
