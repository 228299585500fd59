"""Detected events measured against reference annotations (``clap detect --reference``), with
``sed_eval`` (the DCASE metrics library, in the ``eval`` extra), not by hand.

- Event-based (DCASE Task 4 rule): a detected event matches a reference event of the same label
  when its onset is within ``collar`` seconds of the reference onset and its offset within
  max(``collar``, ``offset_fraction`` x the reference length) of the reference offset (optimal
  matching). F1, precision, recall, error rate; micro (overall) and macro (class-wise average).
- Segment-based: activity per label in segments of ``segment`` seconds over each file's whole
  length (the decoded duration, so a silent tail counts). F1 and error rate, micro and macro.

Files: the scanned inputs found in the reference (by the path as given, else by the file name)
are evaluated; a scanned file missing from the reference, or a reference file not scanned, is
left out and named by ``EvaluationFiles``. Labels: the union of the detection labels and the
reference labels, so a label only one side knows counts as insertions or deletions. A label with
nothing detected has no precision, so no F1 (``None``); macro means leave such labels out, as
sed_eval does. A label without reference events has no recall in sed_eval (NaN), and no error rate
here either (``None``): sed_eval divides its insertions by 0 + eps (one insertion reads 4.5e15),
so macro error rates are over the labels with reference events.

A reference event ending more than ``LATE`` seconds after its file's decoded end is refused (naming
the reference line): the reference belongs to other audio, or its times are not seconds.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clapcli.errors import InputError, missing_extra
from clapcli.io.reference import ReferenceEvent
from clapcli.results import Event, FrameScores
from clapcli.text import plural

COLLAR = 0.2
OFFSET_FRACTION = 0.2
SEGMENT = 1.0
LATE = 1.0  # seconds a reference offset may pass the decoded end (annotations round up: 10.0 for 9.98 s)


@dataclass
class EvaluationFiles:
    """Which scanned inputs go with which reference file name."""

    matched: dict[str, str] = field(default_factory=dict)  # source -> reference name
    not_in_reference: list[str] = field(default_factory=list)  # scanned, no annotations
    not_scanned: list[str] = field(default_factory=list)  # annotated, not among the inputs


def match_files(sources: Iterable[str], reference: Iterable[str]) -> EvaluationFiles:
    """By the path as given, else by the file name when exactly one reference entry has it."""
    names = list(reference)
    by_basename: dict[str, list[str]] = {}
    for name in names:
        by_basename.setdefault(Path(name.replace("\\", "/")).name, []).append(name)
    files = EvaluationFiles()
    used: set[str] = set()
    for source in sources:
        if source in names and source not in used:
            key: str | None = source
        else:
            candidates = [n for n in by_basename.get(Path(source).name, []) if n not in used]
            key = candidates[0] if len(candidates) == 1 else None
        if key is None:
            files.not_in_reference.append(source)
        else:
            files.matched[source] = key
            used.add(key)
    files.not_scanned = [name for name in names if name not in used]
    return files


def load_sed_eval():
    """``sed_eval``, imported lazily. Its dcase_util imports ``pkg_resources`` (gone from setuptools
    >= 81) for version helpers only, so a stand-in is registered for the import alone when it is missing."""
    try:
        import pkg_resources  # noqa: F401
        stub = False
    except ImportError:
        stub = True
        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
    try:
        import sed_eval
        import sed_eval.sound_event  # noqa: F401
    except ImportError:
        raise missing_extra("sed_eval", "eval") from None
    finally:
        if stub:
            sys.modules.pop("pkg_resources", None)
    return sed_eval


def _container(name: str, events: Iterable[tuple[str, float, float]]):
    from dcase_util.containers import MetaDataContainer

    return MetaDataContainer([{"filename": name, "event_label": label, "onset": float(onset), "offset": float(offset)}
                              for label, onset, offset in events])


def evaluate(detected: dict[str, tuple[Sequence[Event], float]], reference: dict[str, list[ReferenceEvent]],
             files: EvaluationFiles, labels: Sequence[str], collar: float = COLLAR,
             offset_fraction: float = OFFSET_FRACTION, segment: float = SEGMENT,
             scores: dict[str, FrameScores] | None = None) -> dict:
    """Metrics of ``detected`` (source -> (events, duration seconds)) over the matched files; with ``scores``
    (source -> the file's frame scores) also PSDS1/PSDS2, which need no threshold (``psds.py``)."""
    sed_eval = load_sed_eval()
    all_labels = list(dict.fromkeys([*labels, *(e.label for events in reference.values() for e in events)]))
    all_labels = sorted(all_labels)
    event_metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=all_labels, t_collar=collar, percentage_of_length=offset_fraction)
    segment_metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=all_labels, time_resolution=segment)
    evaluated = 0
    for source, name in files.matched.items():
        if source not in detected:
            continue
        events, duration = detected[source]
        _check_within(reference[name], source, duration)
        ref = _container(name, [(e.label, e.onset, e.offset) for e in reference[name]])
        est = _container(name, [(e.label, e.onset, e.offset) for e in events])
        event_metrics.evaluate(reference_event_list=ref, estimated_event_list=est)
        length = max([duration, *(e.offset for e in reference[name])])
        segment_metrics.evaluate(reference_event_list=ref, estimated_event_list=est, evaluated_length_seconds=length)
        evaluated += 1
    result = {
        "files": evaluated,
        "labels": all_labels,
        "event_based": {"collar": collar, "offset_fraction": offset_fraction, **_summary(event_metrics)},
        "segment_based": {"segment": segment, **_summary(segment_metrics)},
    }
    if scores is not None:
        from clapcli.core.detect.psds import psds

        named = {name: scores[source] for source, name in files.matched.items() if source in scores}
        truth = {name: [(e.onset, e.offset, e.label) for e in reference[name]] for name in named}
        result.update(psds(named, truth))
    return result


def _check_within(events: Sequence[ReferenceEvent], source: str, duration: float) -> None:
    for event in events:
        if event.offset > duration + LATE:
            raise InputError(f"{event.where or source}: {event.label} {event.onset:g}-{event.offset:g} s ends after "
                             f"{source} ({duration:g} s long); the reference does not belong to this audio, or its "
                             "times are not in seconds")


def _summary(metrics) -> dict:  # noqa: ANN001
    overall = metrics.results_overall_metrics()
    average = metrics.results_class_wise_average_metrics()
    classes = metrics.results_class_wise_metrics()
    rates = {label: _error_rate(metrics, label, values) for label, values in classes.items()}
    defined = [rate for rate in rates.values() if rate is not None]
    return {
        "f1": _number(overall["f_measure"]["f_measure"]),
        "precision": _number(overall["f_measure"]["precision"]),
        "recall": _number(overall["f_measure"]["recall"]),
        "error_rate": _number(overall["error_rate"]["error_rate"]),
        "macro_f1": _number(average["f_measure"]["f_measure"]),
        "macro_error_rate": sum(defined) / len(defined) if defined else None,
        "per_label": {label: {"f1": _number(values["f_measure"]["f_measure"]), "error_rate": rates[label]}
                      for label, values in classes.items()},
    }


def _error_rate(metrics, label: str, values: dict) -> float | None:  # noqa: ANN001
    """sed_eval's class-wise error rate, undefined (None) without reference events (see the module docstring)."""
    if not metrics.class_wise[label]["Nref"]:
        return None
    return _number(values["error_rate"]["error_rate"])


def _number(value) -> float | None:  # noqa: ANN001
    value = float(value)
    return None if value != value else value  # NaN (nothing to measure) -> None


def summary_lines(metrics: dict) -> list[str]:
    """Human lines for stderr."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    ev, seg = metrics["event_based"], metrics["segment_based"]
    lines = [
        f"event-based (collar {ev['collar']:g} s, offset {ev['offset_fraction']:g} of length): F1 {pct(ev['f1'])} "
        f"(macro {pct(ev['macro_f1'])}), ER {num(ev['error_rate'])}, P {pct(ev['precision'])}, "
        f"R {pct(ev['recall'])} over {plural(metrics['files'], 'file')}",
        f"segment-based ({seg['segment']:g} s segments): F1 {pct(seg['f1'])} (macro {pct(seg['macro_f1'])}), "
        f"ER {num(seg['error_rate'])}, P {pct(seg['precision'])}, R {pct(seg['recall'])}",
    ]
    if metrics.get("psds1") is not None and metrics.get("psds2") is not None:
        lines.append(f"PSDS1 {metrics['psds1']['value']:.3f}, PSDS2 {metrics['psds2']['value']:.3f} (from the scores, "
                     "no threshold; DCASE task 4 operating points)")
    return lines


def write_metrics(path: Path, metrics: dict, overwrite: bool) -> None:
    """The metrics as JSON, published atomically (never clobbers without ``overwrite``)."""
    import json

    from clapcli.io.target import OutputFile

    target = OutputFile(path, overwrite, binary=False, label="--metrics")
    try:
        target.handle.write(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n")
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()
