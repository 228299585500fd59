"""``clap detect --reference``: the DCASE TSV reader (errors name file:line), file matching, metrics
through sed_eval checked against hand-computed counts, and the CLI end to end on the band model."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys

import pytest
from fake_model import LABELS, SCENE

from clapcli.core.detect.evaluate import evaluate, load_sed_eval, match_files
from clapcli.errors import InputError
from clapcli.io.reference import ReferenceEvent, read_reference
from clapcli.results import Event

HOP = 0.25


def _tsv(tmp_path, text, name="ref.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reader_header_any_order_empty_files_and_comments(tmp_path):
    path = _tsv(tmp_path, "event_label\tfilename\toffset\tonset\n# note\nDog\ta.wav\t3.5\t1\n\nCat\ta.wav\t6\t5.25\n"
                "\tb.wav\t\t\n")
    assert read_reference(path) == {"a.wav": [ReferenceEvent("Dog", 1.0, 3.5), ReferenceEvent("Cat", 5.25, 6.0)],
                                    "b.wav": []}
    plain = _tsv(tmp_path, "x/a.wav\t0\t1.5\tDog\nc.wav\n", "plain.tsv")
    assert read_reference(plain) == {"x/a.wav": [ReferenceEvent("Dog", 0.0, 1.5)], "c.wav": []}


@pytest.mark.parametrize("text, line, words", [
    ("filename\tonset\tevent_label\na.wav\t1\tDog\n", 1, "lacks offset"),
    ("a.wav\t1\t2\tDog\na.wav\tone\t2\tDog\n", 2, "onset 'one' is not a number"),
    ("a.wav\t3\t2\tDog\n", 1, "offset 2 is before onset 3"),
    ("a.wav\t1\t2\n", 1, "expected 4 tab-separated fields"),
    ("a.wav,1,2,Dog\n", 1, "must be tab-separated"),
    ("a.wav\t-1\t2\tDog\n", 1, "zero or more seconds"),
    ("\t1\t2\tDog\n", 1, "filename is empty"),
])
def test_reader_errors_name_file_and_line(tmp_path, text, line, words):
    path = _tsv(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_reference(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and words in message and "\n" not in message


def test_reader_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_reference(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="no annotations"):
        read_reference(_tsv(tmp_path, "filename\tonset\toffset\tevent_label\n"))
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        read_reference(binary)


def test_match_files_by_path_then_by_name():
    files = match_files(["/data/eval/a.wav", "b.wav", "/else/z.wav"], ["a.wav", "b.wav", "sub/c.wav"])
    assert files.matched == {"/data/eval/a.wav": "a.wav", "b.wav": "b.wav"}
    assert files.not_in_reference == ["/else/z.wav"] and files.not_scanned == ["sub/c.wav"]
    ambiguous = match_files(["/x/a.wav"], ["one/a.wav", "two/a.wav"])  # two candidates: neither is guessed
    assert ambiguous.matched == {} and ambiguous.not_in_reference == ["/x/a.wav"]


def test_metrics_equal_hand_counts():
    # reference: dog 1-3, car 5-6; detected: dog 1.1-3.05 (a hit within the 0.2 s collar), dog 5.5-6 (false)
    reference = {"a.wav": [ReferenceEvent("dog", 1.0, 3.0), ReferenceEvent("car", 5.0, 6.0)]}
    events = [Event("/d/a.wav", "dog", 1.1, 3.05, 0.9, 0.8), Event("/d/a.wav", "dog", 5.5, 6.0, 0.7, 0.6)]
    detected = {"/d/a.wav": (events, 7.0)}
    result = evaluate(detected, reference, match_files(detected, reference), ["dog", "car"])
    ev, seg = result["event_based"], result["segment_based"]
    # events: TP 1, FP 1, FN 1 -> P = R = F1 = 1/2; ER = (D 1 + I 1) / N 2
    assert (ev["precision"], ev["recall"], ev["f1"], ev["error_rate"]) == pytest.approx((0.5, 0.5, 0.5, 1.0))
    # dog: TP 1, FP 1 -> F1 2/3, ER (I 1) / N 1; car: nothing detected -> precision and F1 undefined (None),
    # ER (D 1) / N 1; the macro mean leaves undefined labels out, as sed_eval does
    assert ev["per_label"]["dog"]["f1"] == pytest.approx(2 / 3) and ev["per_label"]["car"]["f1"] is None
    assert ev["per_label"]["dog"]["error_rate"] == pytest.approx(1.0) == ev["per_label"]["car"]["error_rate"]
    assert ev["macro_f1"] == pytest.approx(2 / 3) and ev["macro_error_rate"] == pytest.approx(1.0)
    # 1 s segments over 7 s: dog ref {1,2}, est {1,2,3,5}; car ref {5}. TP 2, FP 2, FN 1;
    # segment 3: one insertion; segment 5: car missed and dog inserted = one substitution -> ER 2/3
    assert (seg["precision"], seg["recall"]) == pytest.approx((0.5, 2 / 3))
    assert seg["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert seg["error_rate"] == pytest.approx(2 / 3)
    assert result["files"] == 1 and result["labels"] == ["car", "dog"]
    # a tight collar: the 0.1 s late onset no longer matches
    strict = evaluate(detected, reference, match_files(detected, reference), ["dog", "car"], collar=0.05)
    assert strict["event_based"]["f1"] == 0.0


def test_silent_tail_counts_in_segments():
    reference = {"a.wav": [ReferenceEvent("dog", 0.0, 1.0)]}
    detected = {"a.wav": ([Event("a.wav", "dog", 0.0, 1.0, 1, 1), Event("a.wav", "dog", 8.0, 9.0, 1, 1)], 10.0)}
    seg = evaluate(detected, reference, match_files(detected, reference), ["dog"])["segment_based"]
    assert (seg["precision"], seg["recall"], seg["error_rate"]) == pytest.approx((0.5, 1.0, 1.0))


def test_pkg_resources_stand_in_does_not_linger():
    before = "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None
    assert load_sed_eval().sound_event.EventBasedMetrics
    after = "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None
    assert before == after


def _detect(cli, *args):
    return cli(["detect", *args, "--labels", LABELS, "--window", "1", "--hop", str(HOP), "--quiet"])


def _scene_reference(tmp_path):
    rows = "".join(f"scene.wav\t{onset}\t{offset}\t{label}\n" for label, onset, offset in SCENE)
    return _tsv(tmp_path, "filename\tonset\toffset\tevent_label\n" + rows)


def test_cli_reference_metrics(cli, fake_model, scenes, tmp_path):
    target = tmp_path / "metrics.json"
    result = _detect(cli, scenes["scene"], "-f", "csv", "--reference", _scene_reference(tmp_path),
                     "--metrics", target)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    silence = sum(r["label"] == "silence" for r in rows)
    assert silence >= 1 and len(rows) == 3 + silence
    metrics = json.loads(target.read_text())
    ev = metrics["event_based"]
    # the three tones are found within half a hop (< the 0.2 s collar); every 'silence' event is an insertion
    precision = 3 / (3 + silence)
    assert ev["recall"] == 1.0 and ev["precision"] == pytest.approx(precision)
    assert ev["f1"] == pytest.approx(2 * precision / (1 + precision))
    assert ev["error_rate"] == pytest.approx(silence / 3)
    assert all(ev["per_label"][label]["f1"] == 1.0 for label, _, _ in SCENE)
    assert metrics["files"] == 1 and set(metrics["segment_based"]["per_label"]) == set(LABELS.split(","))
    assert "event-based" in result.stderr and "segment-based" in result.stderr
    assert f"F1 {100 * ev['f1']:.1f}%" in result.stderr
    again = _detect(cli, scenes["scene"], "-f", "csv", "--reference", _scene_reference(tmp_path), "--metrics", target)
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_cli_files_outside_the_reference_are_named(cli, fake_model, scenes, tmp_path):
    reference = _tsv(tmp_path, "scene.wav\t2\t5\tlow tone\nmissing.wav\t0\t1\tdog\n")
    result = cli(["detect", scenes["scene"], scenes["other"], "--labels", LABELS, "--window", "1", "--hop",
                  str(HOP), "-f", "csv", "--reference", reference])
    assert result.exit_code == 0, result.stderr
    assert "1 scanned file is not in the reference" in result.stderr and "other.flac" in result.stderr
    assert "1 reference file was not among the inputs" in result.stderr and "missing.wav" in result.stderr
    assert "over 1 files" not in result.stderr and "over 1 file" in result.stderr
    assert "reference labels not among --labels count as missed: dog" in result.stderr


def test_cli_reference_errors(cli, fake_model, scenes, tmp_path):
    bad = _tsv(tmp_path, "scene.wav\t2\t5\tlow tone\nscene.wav\t2\tfive\tlow tone\n", "bad.tsv")
    result = _detect(cli, scenes["scene"], "-f", "csv", "--reference", bad)
    assert result.exit_code == 1 and f"{bad}:2: offset 'five' is not a number" in result.stderr
    assert result.stdout == ""  # nothing scanned before the reference is read
    usage = _detect(cli, scenes["scene"], "-f", "csv", "--metrics", tmp_path / "m.json")
    assert usage.exit_code == 2 and "--metrics needs --reference" in usage.stderr
    nomatch = _detect(cli, scenes["scene"], "-f", "csv", "--reference", _tsv(tmp_path, "zzz.wav\t0\t1\tx\n", "z.tsv"))
    assert nomatch.exit_code == 1 and "none of the scanned files is in the reference" in nomatch.stderr


def test_missing_extra_is_named_before_any_audio_is_read(cli, fake_model, scenes, tmp_path, monkeypatch):
    from clapcli.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "sed_eval", None)  # 'import sed_eval' now fails as when not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'clapcli\[eval\]'"):
        load_sed_eval()
    result = _detect(cli, scenes["scene"], "-f", "csv", "--reference", _scene_reference(tmp_path))
    assert result.exit_code != 0 and "clapcli[eval]" in result.stderr and result.stdout == ""
