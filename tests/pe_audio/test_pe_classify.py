"""clap classify with PE-Audio: sigmoid scores equal transformers' ``PeAudioModel`` logits, per label."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from pe_models import reference_forward

LABELS = ["dog barking", "cat meowing", "rain on roof", "siren"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_sigmoid_scores_equal_the_reference(cli, tiny_pe, pe_clips) -> None:
    paths = list(pe_clips.values())
    logits, _, _ = reference_forward(tiny_pe, paths, LABELS)
    result = cli(["classify", *paths, "--model", tiny_pe, "--labels", ",".join(LABELS), "--format", "json",
                  "--top-k", "4", "--template", "{}", "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    for path, logit in zip(paths, logits):
        got = {p["label"]: p["score"] for p in rows[str(path)]["predictions"]}
        expected = _sigmoid(logit.numpy().astype(np.float64))
        assert set(got) == set(LABELS)  # multi-label: every label keeps its own probability
        np.testing.assert_allclose([got[label] for label in LABELS], expected, atol=1e-5)
        assert abs(sum(got.values()) - 1.0) > 1e-3  # not a softmax


def test_default_template_is_the_bare_label(cli, tiny_pe, pe_clips) -> None:
    paths = [pe_clips["tone"]]
    logits, _, _ = reference_forward(tiny_pe, paths, LABELS)
    result = cli(["classify", *paths, "--model", tiny_pe, "--labels", ",".join(LABELS), "--format", "csv",
                  "--top-k", "4"])
    assert result.exit_code == 0, result.stderr
    got = {row["label"]: float(row["score"]) for row in csv.DictReader(io.StringIO(result.stdout))}
    np.testing.assert_allclose([got[label] for label in LABELS], _sigmoid(logits[0].numpy()), atol=1e-5)


def test_softmax_scoring_is_the_softmax_of_the_same_logits(cli, tiny_pe, pe_clips) -> None:
    paths = [pe_clips["noise"]]
    logits, _, _ = reference_forward(tiny_pe, paths, LABELS)
    result = cli(["classify", *paths, "--model", tiny_pe, "--labels", ",".join(LABELS), "--format", "json",
                  "--top-k", "4", "--scoring", "softmax"])
    assert result.exit_code == 0, result.stderr
    got = {p["label"]: p["score"] for p in json.loads(result.stdout)[0]["predictions"]}
    values = logits[0].numpy().astype(np.float64)
    expected = np.exp(values - values.max()) / np.exp(values - values.max()).sum()
    np.testing.assert_allclose([got[label] for label in LABELS], expected, atol=1e-5)


def test_threshold_keeps_the_labels_at_or_above_it(cli, tiny_pe, pe_clips) -> None:
    paths = [pe_clips["chirp"]]
    logits, _, _ = reference_forward(tiny_pe, paths, LABELS)
    probabilities = _sigmoid(logits[0].numpy().astype(np.float64))
    cut = float(np.sort(probabilities)[1])  # between the labels: keeps the top three
    result = cli(["classify", *paths, "--model", tiny_pe, "--labels", ",".join(LABELS), "--format", "json",
                  "--top-k", "4", "--threshold", f"{cut - 1e-7:.9f}"])
    assert result.exit_code == 0, result.stderr
    kept = [p["label"] for p in json.loads(result.stdout)[0]["predictions"]]
    assert kept == [LABELS[i] for i in np.argsort(-probabilities)[:3]]


def test_a_single_label_is_fine_with_sigmoid(cli, tiny_pe, pe_clips) -> None:
    logits, _, _ = reference_forward(tiny_pe, [pe_clips["tone"]], ["siren"])
    result = cli(["classify", pe_clips["tone"], "--model", tiny_pe, "--labels", "siren", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    score = json.loads(result.stdout)[0]["predictions"][0]["score"]
    assert score == pytest.approx(float(_sigmoid(logits[0].numpy())[0]), abs=1e-5)


def test_sigmoid_on_clap_is_refused_in_one_line(cli, tiny_clap, pe_clips) -> None:
    result = cli(["classify", pe_clips["tone"], "--model", tiny_clap, "--labels", "a,b", "--scoring", "sigmoid"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "--scoring sigmoid" in line and "learned bias" in line


def test_unknown_scoring_is_refused(cli, tiny_pe, pe_clips) -> None:
    result = cli(["classify", pe_clips["tone"], "--model", tiny_pe, "--labels", "a,b", "--scoring", "tanh"])
    assert result.exit_code == 2
    assert "--scoring tanh" in result.stderr and "softmax or sigmoid" in result.stderr


def test_clap_default_is_still_softmax(cli, tiny_clap, pe_clips) -> None:
    result = cli(["classify", pe_clips["tone"], "--model", tiny_clap, "--labels", "a,b,c", "--format", "json",
                  "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    scores = [p["score"] for p in json.loads(result.stdout)[0]["predictions"]]
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)
