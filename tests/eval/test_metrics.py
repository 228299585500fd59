"""The metrics against the code that defines them: scikit-learn (classification) and LAION-CLAP's
``get_metrics`` / ``evaluate_clotho_audiocaps`` (retrieval), on the same predictions / similarities."""

from __future__ import annotations

import numpy as np
import pytest
from laion_metrics_reference import laion_clotho_metrics, laion_get_metrics
from sklearn import metrics as skm

from clapcli.core.eval.metrics import (
    bootstrap_interval,
    classification_figures,
    retrieval_figures,
    retrieval_ranks,
)


def _scores(rng, n: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.integers(0, classes, n)
    scores = rng.random((n, classes))
    scores[np.arange(n), truth] += rng.random(n) * 0.8  # better than chance, not perfect
    return truth, scores


@pytest.mark.parametrize(("n", "classes", "seed"), [(200, 10, 0), (57, 7, 1), (31, 12, 2), (40, 3, 3)])
def test_classification_equals_sklearn(n, classes, seed):
    rng = np.random.default_rng(seed)
    truth, scores = _scores(rng, n, classes)
    predicted = scores.argmax(axis=1)
    figures = classification_figures(truth, scores, bootstrap=200)
    assert figures.top1 == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-12)
    assert figures.macro_f1 == pytest.approx(skm.f1_score(truth, predicted, average="macro", zero_division=0),
                                             abs=1e-12)
    np.testing.assert_array_equal(figures.matrix, skm.confusion_matrix(truth, predicted, labels=range(classes)))
    top5 = skm.top_k_accuracy_score(truth, scores, k=min(5, classes), labels=range(classes)) if classes > 5 else 1.0
    assert figures.top5 == pytest.approx(top5, abs=1e-12)
    present = np.isin(np.arange(classes), truth)
    recall = skm.recall_score(truth, predicted, average=None, labels=np.arange(classes)[present], zero_division=0)
    np.testing.assert_allclose(figures.per_class[present], recall, atol=1e-12)
    assert np.isnan(figures.per_class[~present]).all()


def test_macro_f1_with_classes_never_predicted_or_absent():
    truth = np.array([0, 0, 1, 1, 2, 2, 3])
    scores = np.eye(5)[[0, 1, 1, 1, 4, 4, 0]]  # class 2 never predicted, 4 predicted but absent, 3 missed
    predicted = scores.argmax(axis=1)
    figures = classification_figures(truth, scores, bootstrap=0)
    assert figures.macro_f1 == pytest.approx(skm.f1_score(truth, predicted, average="macro", zero_division=0))


def test_bootstrap_interval_is_deterministic_and_brackets_the_accuracy():
    correct = np.random.default_rng(5).random(300) < 0.7
    low, high = bootstrap_interval(correct, 1000)
    assert (low, high) == bootstrap_interval(correct, 1000)
    assert low < correct.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * np.sqrt(0.7 * 0.3 / 300), rel=0.2)  # the normal approximation


def _unit(rng, n: int, d: int = 16) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_caption_per_clip_equals_laion_get_metrics(seed):
    rng = np.random.default_rng(seed)
    audio, text = _unit(rng, 37), _unit(rng, 37)
    audio = (audio + 0.5 * text) / np.linalg.norm(audio + 0.5 * text, axis=1, keepdims=True)  # some hits
    reference = laion_get_metrics(audio, text, logit_scale=33.0)
    ours = retrieval_figures(audio @ text.T, range(37))
    assert set(reference) <= set(ours)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_five_captions_equals_laion_evaluate_clotho_audiocaps(seed):
    rng = np.random.default_rng(seed)
    n = 29
    audio = _unit(rng, n)
    text = _unit(rng, 5 * n) + 0.6 * np.repeat(audio, 5, axis=0)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    reference = laion_clotho_metrics(audio, text, logit_scale=10.0)
    ours = retrieval_figures(audio @ text.T, np.repeat(np.arange(n), 5))
    for key, value in reference.items():
        if key == "audio_to_text_mAP@10":
            continue  # see the next test
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    assert set(reference) <= set(ours)


def test_audio_to_text_map_equals_laion_when_captions_come_in_rank_order():
    """LAION's docstring (after Mei et al.) sorts a clip's caption ranks before the mAP; its code does not,
    so its value depends on the order of the captions in the file. Ours sorts: they agree once each clip's
    captions are listed best first, and ours does not change when captions are shuffled."""
    rng = np.random.default_rng(7)
    n = 23
    audio = _unit(rng, n)
    text = _unit(rng, 5 * n) + 0.9 * np.repeat(audio, 5, axis=0)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    similarity = audio @ text.T
    order = np.concatenate([5 * i + np.argsort(-similarity[i, 5 * i:5 * i + 5], kind="stable") for i in range(n)])
    reference = laion_clotho_metrics(audio, text[order])
    ours = retrieval_figures(similarity[:, order], np.repeat(np.arange(n), 5))
    assert ours["audio_to_text_mAP@10"] == pytest.approx(reference["audio_to_text_mAP@10"], abs=1e-6)
    shuffled = np.concatenate([5 * i + rng.permutation(5) for i in range(n)])
    again = retrieval_figures(similarity[:, shuffled], np.repeat(np.arange(n), 5))
    assert again["audio_to_text_mAP@10"] == pytest.approx(ours["audio_to_text_mAP@10"], abs=1e-12)


def test_any_number_of_captions_per_clip_by_brute_force():
    rng = np.random.default_rng(11)
    counts = [1, 3, 2, 5, 1, 4]
    caption_clip = np.repeat(np.arange(len(counts)), counts)
    similarity = rng.standard_normal((len(counts), len(caption_clip)))
    ranks = retrieval_ranks(similarity, caption_clip)
    for j, clip in enumerate(caption_clip):
        assert ranks.text_to_audio[j] == list(np.argsort(-similarity[:, j])).index(clip)
    for clip in range(len(counts)):
        order = list(np.argsort(-similarity[clip]))
        assert ranks.audio_to_text[clip] == min(order.index(j) for j in np.flatnonzero(caption_clip == clip))
