"""Probes in the Python API: ``train_probe``/``load_probe`` and ``probe=`` on classify, iter_classify and detect;
the same numbers as the probe applied to the embeddings, each refusal in one line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import clapcli
from clapcli.core.probe.model import Probe, ProbeError
from clapcli.errors import InputError, InvalidField


@pytest.fixture(scope="module")
def api_probe(loaded_clap, tone_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("api-probe") / "probe"
    return clapcli.train_probe(loaded_clap, tone_folders, out), out


def test_train_load_and_classify(loaded_clap, api_probe, tone_folders):
    probe, out = api_probe
    again = clapcli.load_probe(out)
    assert again.classes == probe.classes and np.array_equal(again.weights, probe.weights)
    assert again.manifest["training"]["files"] == 18
    files = [str(p) for p in sorted(tone_folders.rglob("*.wav"))][::4]
    vectors = np.stack([e.vector for e in clapcli.embed_audio(loaded_clap, files)])
    expected = again.probabilities(vectors)
    results = clapcli.classify(loaded_clap, files, probe=again)
    streamed = list(clapcli.iter_classify(loaded_clap, files, probe=again))
    for row, result, same in zip(expected, results, streamed):
        assert result.to_dict() == same.to_dict()
        assert {p.label: p.score for p in result.predictions} == pytest.approx(dict(zip(again.classes, row)),
                                                                               abs=1e-5)
    assert [r.source for r in results] == files


def test_detect_with_a_probe_scores_the_windows(loaded_clap, api_probe, tone_folders):
    from clapcli.core.windows import WindowSpec, window_embeddings

    probe, _ = api_probe
    path = next(tone_folders.rglob("*.wav"))
    detection = clapcli.detect(loaded_clap, [str(path)], probe=probe, window=0.2, hop=0.1)[0]
    rows = next(window_embeddings(loaded_clap, [path], WindowSpec(0.2, 0.1))).rows
    assert detection.scores.labels == probe.classes
    np.testing.assert_allclose(detection.scores.scores, probe.probabilities(rows), atol=1e-5)
    assert len(rows) == 3  # 0.4 s: windows at 0, 0.1, 0.2 s


def test_refusals_are_one_line(loaded_clap, api_probe, tone_folders, tmp_path):
    probe, _ = api_probe
    wav = str(next(tone_folders.rglob("*.wav")))
    other = Probe(probe.classes, probe.weights, probe.bias, False, {"model": {"id": "someone/else"}})
    cases = [
        (lambda: clapcli.classify(loaded_clap, [wav]), InvalidField, "give labels"),
        (lambda: clapcli.classify(loaded_clap, [wav], ["a", "b"], probe=probe), InvalidField, "drop labels"),
        (lambda: clapcli.iter_classify(loaded_clap, [wav], probe=other), ProbeError, "trained on 'someone/else'"),
        (lambda: clapcli.classify(loaded_clap, [wav], probe="my-probe/"), InvalidField, "takes a Probe"),
        (lambda: clapcli.detect(loaded_clap, [wav], probe=probe, mode="softmax"), InvalidField, "drop mode"),
        (lambda: clapcli.detect(loaded_clap, [wav], probe=other), ProbeError, "trained on 'someone/else'"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


def test_a_broken_file_raises_or_is_left_out(loaded_clap, tone_folders, tmp_path):
    data = tmp_path / "sounds"
    shutil.copytree(tone_folders, data)
    (data / "low_hum" / "broken.wav").write_text("not audio at all\n" * 20)
    with pytest.raises(InputError, match="broken.wav"):
        clapcli.train_probe(loaded_clap, data)
    probe = clapcli.train_probe(loaded_clap, data, tmp_path / "p", failures="keep")
    assert probe.manifest["training"]["files"] == 18 and (tmp_path / "p" / "probe.json").exists()
