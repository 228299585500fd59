"""``import clapcli`` is the Python API: the documented names, loaded on first use (importing the package
stays light), and results that line up with the inputs (a failure stands in its input's place)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import clapcli
from clapcli import api
from clapcli.errors import InputError, UsageError
from clapcli.results import Classification, Embedding, FailedInput


def test_the_api_is_importable_from_the_package() -> None:
    assert set(api.__all__) <= set(clapcli.__all__)
    for name in api.__all__:
        assert getattr(clapcli, name) is getattr(api, name)
    with pytest.raises(AttributeError):
        clapcli.no_such_thing  # noqa: B018


def test_importing_the_package_imports_neither_torch_nor_the_api() -> None:
    code = "import sys, clapcli; print(sorted({'torch', 'clapcli.api'} & set(sys.modules)), clapcli.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == "[]"


def _clips(rate: int) -> list[np.ndarray]:
    tone = (0.1 * np.sin(np.arange(2 * rate) / 7)).astype(np.float32)
    return [tone, np.zeros(0, np.float32), tone[::-1].copy()]  # the middle one holds no samples


def test_failures_keep_their_place(loaded_clap) -> None:
    rate = loaded_clap.sample_rate
    embedded = clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, failures="keep")
    assert [type(r) for r in embedded] == [Embedding, FailedInput, Embedding]
    assert [r.source for r in embedded] == ["<input 0>", "<input 1>", "<input 2>"]
    classified = clapcli.classify(loaded_clap, _clips(rate), ["a", "b"], sample_rate=rate, failures="keep")
    assert [type(r) for r in classified] == [Classification, FailedInput, Classification]
    with pytest.raises(InputError, match="<input 1>"):
        clapcli.classify(loaded_clap, _clips(rate), ["a", "b"], sample_rate=rate)
    with pytest.raises(UsageError, match="failures 'drop'"):
        clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, failures="drop")


def test_skip_failures_still_drops_but_says_why(loaded_clap) -> None:
    rate = loaded_clap.sample_rate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, skip_failures=True)
    assert len(kept) == 2
    assert any(issubclass(w.category, DeprecationWarning) and "failures='keep'" in str(w.message) for w in caught)


# --- the rest of the documented API agrees with the command line on the same inputs ---------------

@pytest.fixture()
def sound_dir(tmp_path, loaded_clap):
    import soundfile as sf

    rate = loaded_clap.sample_rate
    t = np.arange(3 * rate) / rate
    folder = tmp_path / "sounds"
    folder.mkdir()
    sf.write(folder / "a.wav", (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), rate)
    sf.write(folder / "b.wav", (0.1 * np.random.default_rng(4).standard_normal(t.size)).astype(np.float32), rate)
    (folder / "c.wav").write_bytes(b"RIFF broken")
    return folder


def test_iter_classify_streams_what_classify_returns(loaded_clap, sound_dir) -> None:
    inputs = [str(sound_dir / name) for name in ("a.wav", "c.wav", "b.wav")]
    stream = clapcli.iter_classify(loaded_clap, inputs, ["tone", "noise"], failures="keep")
    assert not isinstance(stream, list)
    streamed = list(stream)
    listed = clapcli.classify(loaded_clap, inputs, ["tone", "noise"], failures="keep")
    assert [r.source for r in streamed] == inputs and streamed == listed
    with pytest.raises(UsageError, match="failures"):
        clapcli.iter_embed_audio(loaded_clap, inputs, failures="drop")  # checked at the call, not at next()


def test_detect_equals_the_command(loaded_clap, sound_dir, cli, tiny_clap) -> None:
    files = [str(sound_dir / "a.wav"), str(sound_dir / "b.wav")]
    found = clapcli.detect(loaded_clap, files, ["tone", "noise"], window=1.0, threshold=0.5)
    rows = [json.loads(line) for line in cli(["detect", *files, "--labels", "tone,noise", "--window", "1",
                                              "--model", tiny_clap, "-f", "jsonl"]).stdout.splitlines()]
    assert [event.to_dict() for d in found for event in d.events] == rows
    assert [d.source for d in found] == files
    kept = clapcli.detect(loaded_clap, [files[0], str(sound_dir / "c.wav")], ["tone", "noise"], window=1.0,
                          failures="keep")
    assert isinstance(kept[1], FailedInput) and kept[1].source.endswith("c.wav")


def test_library_add_and_search_equal_the_commands(loaded_clap, sound_dir, cli, tiny_clap, tmp_path) -> None:
    db = tmp_path / "lib.db"
    with clapcli.Library(db) as library:
        summary = library.add(loaded_clap, [str(sound_dir)])
        assert (summary.added, len(summary.failed)) == (2, 1)
        assert library.paths() == [str(sound_dir / "a.wav"), str(sound_dir / "b.wav")]
        assert library.add(loaded_clap, [str(sound_dir)]).added == 0  # unchanged files are skipped
        (result,) = library.search(["a pure tone"], loaded_clap, k=2)
    rows = [json.loads(line) for line in cli(["retrieve", "a pure tone", "--db", db, "--model", tiny_clap, "-k", "2",
                                              "-f", "jsonl"]).stdout.splitlines()]
    assert result.records() == rows


def test_evaluate_equals_eval_classify(loaded_clap, tmp_path, cli, tiny_clap) -> None:
    import soundfile as sf

    rate = loaded_clap.sample_rate
    for label, seed in (("tone", 1), ("noise", 2)):
        (tmp_path / "data" / label).mkdir(parents=True)
        for index in range(3):
            noise = np.random.default_rng(seed * 7 + index).standard_normal(rate).astype(np.float32)
            sf.write(tmp_path / "data" / label / f"{index}.wav", 0.1 * noise, rate)
    result = clapcli.evaluate(loaded_clap, tmp_path / "data", bootstrap=50)
    summary = json.loads(cli(["eval", "classify", tmp_path / "data", "--model", tiny_clap, "--bootstrap", "50",
                              "-f", "json"]).stdout)
    (row,) = summary
    assert (result.overall.n, result.overall.top1, result.overall.macro_f1) == (row["n"], row["top1"], row["macro_f1"])
    assert row["top1_ci95"] == f"{result.overall.ci_low:.4f}-{result.overall.ci_high:.4f}"
