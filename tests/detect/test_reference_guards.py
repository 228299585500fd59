"""``clap detect --reference`` and its options refuse what would be misread or never finish: a quoted
line break, absurd or out-of-file times, non-finite thresholds; duplicate events are named once; the
macro error rate leaves out labels without reference events (their rate is undefined, as sed_eval's
recall is)."""

from __future__ import annotations

import time
import warnings

import pytest
from fake_model import LABELS

from clapcli.core.detect.evaluate import evaluate, load_sed_eval, match_files
from clapcli.errors import ClapcliWarning, InputError
from clapcli.io.reference import ReferenceEvent, read_reference
from clapcli.results import Event

HOP = "0.25"


def _tsv(tmp_path, text, name="ref.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_quoted_line_break_in_a_label_is_refused(tmp_path):
    path = _tsv(tmp_path, 'a.wav\t1\t2\tDog\na.wav\t3\t4\t"Dog\nbark"\n')
    with pytest.raises(InputError, match=rf"^{path}:2: a quoted line break inside 'event_label'"):
        read_reference(path)


def test_duplicate_events_are_left_out_with_one_warning(tmp_path):
    path = _tsv(tmp_path, "a.wav\t1\t2\tDog\na.wav\t3\t4\tCat\na.wav\t1\t2\tDog\na.wav\t1.0\t2.0\tDog\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        files = read_reference(path)
    assert files == {"a.wav": [ReferenceEvent("Dog", 1.0, 2.0), ReferenceEvent("Cat", 3.0, 4.0)]}
    assert [str(w.message) for w in seen if issubclass(w.category, ClapcliWarning)] == [
        f"2 duplicate reference events left out (first: {path}:3 repeats line 1)"]


def test_absurd_times_are_refused_at_once(tmp_path):
    path = _tsv(tmp_path, "a.wav\t0\t1\tDog\na.wav\t2\t3e7\tDog\n")
    with pytest.raises(InputError, match=rf"^{path}:2: offset 3e\+07 s is more than a week"):
        read_reference(path)


def test_reference_beyond_the_file_is_refused_quickly(tmp_path):
    path = _tsv(tmp_path, "a.wav\t0\t1\tdog\na.wav\t20\t21\tdog\n")
    reference = read_reference(path)
    detected = {"a.wav": ([Event("a.wav", "dog", 0.0, 1.0, 1, 1)], 10.0)}
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        evaluate(detected, reference, match_files(detected, reference), ["dog"])
    assert time.monotonic() - started < 5
    assert str(caught.value) == (f"{path}:2: dog 20-21 s ends after a.wav (10 s long); the reference does not "
                                 "belong to this audio, or its times are not in seconds")


def test_a_slightly_late_offset_is_kept():
    reference = {"a.wav": [ReferenceEvent("dog", 9.0, 10.4)]}
    detected = {"a.wav": ([Event("a.wav", "dog", 9.0, 10.0, 1, 1)], 10.0)}
    assert evaluate(detected, reference, match_files(detected, reference), ["dog"])["files"] == 1


def test_macro_error_rate_leaves_out_labels_without_reference_events():
    # cat: no reference events, one insertion; sed_eval divides by (0 + eps) and gets 4.5e15
    reference = {"a.wav": [ReferenceEvent("dog", 1.0, 3.0), ReferenceEvent("dog", 5.0, 6.0)]}
    events = [Event("a.wav", "dog", 1.0, 3.0, 1, 1), Event("a.wav", "cat", 7.0, 8.0, 1, 1)]
    detected = {"a.wav": (events, 10.0)}
    result = evaluate(detected, reference, match_files(detected, reference), ["dog", "cat"])
    for kind in ("event_based", "segment_based"):
        metrics = result[kind]
        assert metrics["per_label"]["cat"]["error_rate"] is None
        assert metrics["macro_error_rate"] == pytest.approx(metrics["per_label"]["dog"]["error_rate"])
        assert metrics["macro_error_rate"] < 10
    assert result["event_based"]["per_label"]["dog"]["error_rate"] == pytest.approx(0.5)  # D 1 / N 2
    # the labels with reference events keep sed_eval's own figure
    sed_eval = load_sed_eval()
    from clapcli.core.detect.evaluate import _container

    check = sed_eval.sound_event.EventBasedMetrics(event_label_list=["cat", "dog"], t_collar=0.2,
                                                   percentage_of_length=0.2)
    check.evaluate(_container("a.wav", [("dog", 1, 3), ("dog", 5, 6)]),
                   _container("a.wav", [("dog", 1, 3), ("cat", 7, 8)]))
    classes = check.results_class_wise_metrics()
    assert result["event_based"]["per_label"]["dog"]["error_rate"] == classes["dog"]["error_rate"]["error_rate"]
    assert classes["cat"]["error_rate"]["error_rate"] > 1e15  # what is left out


def _detect(cli, scene, *args):
    return cli(["detect", scene, "--labels", LABELS, "--window", "1", "--hop", HOP, "-f", "csv", *args])


@pytest.mark.parametrize("args, message", [
    (["--threshold", "nan"], "--threshold nan: give a number from 0 to 1"),
    (["--threshold", "inf"], "--threshold inf: give a number from 0 to 1"),
    (["--threshold", "1.5"], "--threshold 1.5: give a number from 0 to 1"),
    (["--threshold", "0.5", "--threshold-off", "nan"], "--threshold-off nan: give a number from 0 to 1"),
    (["--min-duration", "inf"], "--min-duration inf: give a finite number of seconds"),
    (["--collar", "nan"], "'--collar'"),  # the parser's own check
    (["--merge-gap", "nan"], "'--merge-gap'"),
    (["--window", "nan"], "--window nan: give a positive number"),
    (["--hop", "inf"], "--hop inf: give a positive number"),
])
def test_non_finite_and_out_of_range_options_are_usage_errors(cli, fake_model, scenes, args, message):
    result = _detect(cli, scenes["scene"], *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "unexpected" not in result.stderr and result.stdout == ""


def test_cosine_threshold_may_be_negative(cli, fake_model, scenes):
    result = cli(["detect", scenes["scene"], "-l", "high tone", "--window", "1", "--hop", HOP, "-f", "csv",
                  "--threshold", "-1.5"])
    assert result.exit_code == 2 and "--threshold -1.5: give a number from -1 to 1" in result.stderr
    assert cli(["detect", scenes["scene"], "-l", "high tone", "--window", "1", "--hop", HOP, "-f", "csv", "-q",
                "--threshold", "-0.2"]).exit_code == 0


def test_cli_reference_beyond_the_audio_ends_with_one_line(cli, fake_model, scenes, tmp_path):
    reference = _tsv(tmp_path, "scene.wav\t2\t5\tlow tone\nscene.wav\t100\t30000000\tlow tone\n")
    started = time.monotonic()
    result = _detect(cli, scenes["scene"], "--reference", reference)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (f"error: {reference}:2: offset 3e+07 s is more than a week "
                                                      "(604800 s); reference times are in seconds")


def test_detect_summary_says_one_file_one_event(cli, fake_model, scenes):
    result = cli(["detect", scenes["scene"], "-l", "high tone", "--window", "1", "--hop", HOP, "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "1 file scanned, 1 event in " in result.stderr.splitlines()[-1]
