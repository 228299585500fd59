"""Reference (strong) annotations for ``clap detect --reference``: the DCASE/DESED TSV form.

One event per line, tab-separated: ``filename, onset, offset, event_label`` (seconds). A header
line naming these columns (in any order, extra columns ignored) is optional; without one the
columns are in that order. A line with a filename only (or empty onset, offset and label, as
DESED writes them) lists a file with no events. Blank lines and ``#`` comments are skipped.
Malformed lines are one-line errors naming ``file:line``: a quoted value running over the line end
(pandas would join it into one label), times that are not seconds or beyond a week (3e7 s would make
the segment-based metrics count a year of segments). An event repeating an earlier one (same file,
label, onset and offset) is left out, all of them named in one ``ClapcliWarning``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from clapcli.errors import ClapcliWarning, InputError
from clapcli.text import plural

COLUMNS = ("filename", "onset", "offset", "event_label")
MAX_SECONDS = 7 * 24 * 3600  # a week: longer is not a recording's time in seconds


@dataclass(frozen=True)
class ReferenceEvent:
    label: str
    onset: float
    offset: float
    where: str = field(default="", compare=False)  # "file:line", for messages


def read_reference(path: str | Path) -> dict[str, list[ReferenceEvent]]:
    """File name (as written) -> its reference events, in file order; files without events map to []."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"--reference {path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"--reference {path}: not a UTF-8 text file (expected a tab-separated "
                         "filename, onset, offset, event_label table)") from None
    except OSError as exc:
        raise InputError(f"--reference {path}: cannot read it ({exc.strerror or exc})") from None
    files: dict[str, list[ReferenceEvent]] = {}
    seen: dict[tuple[str, ReferenceEvent], int] = {}
    repeats: list[tuple[int, int]] = []  # (line, the line it repeats)
    order = list(range(len(COLUMNS)))
    first = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split("\t")]
        if first:
            first = False
            names = [field.lower() for field in fields]
            if "filename" in names or "event_label" in names:
                missing = [name for name in COLUMNS if name not in names]
                if missing:
                    raise InputError(f"{path}:{number}: the header lacks {', '.join(missing)} (expected "
                                     "filename, onset, offset, event_label, tab-separated)")
                order = [names.index(name) for name in COLUMNS]
                continue
        files_event = _parse_row(fields, order, path, number, line)
        name, event = files_event
        files.setdefault(name, [])
        if event is not None:
            earlier = seen.setdefault((name, event), number)
            if earlier == number:
                files[name].append(event)
            else:
                repeats.append((number, earlier))
    if repeats:
        warnings.warn(ClapcliWarning(f"{plural(len(repeats), 'duplicate reference event')} left out (first: "
                                     f"{path}:{repeats[0][0]} repeats line {repeats[0][1]})"), stacklevel=2)
    if not files:
        raise InputError(f"--reference {path}: no annotations in it (expected a tab-separated filename, onset, "
                         "offset, event_label table)")
    return files


def _parse_row(fields: list[str], order: list[int], path: Path, number: int,
               line: str) -> tuple[str, ReferenceEvent | None]:
    where = f"{path}:{number}"
    if len(fields) == 1 and ("," in line or ";" in line) and len(line.split(",")) >= 4:
        raise InputError(f"{where}: no tabs in this line; the reference must be tab-separated (filename, onset, "
                         "offset, event_label)")
    for index, value in enumerate(fields):
        if value.startswith('"') and (len(value) == 1 or not value.endswith('"')):
            column = COLUMNS[order.index(index)] if index in order else f"field {index + 1}"
            raise InputError(f"{where}: a quoted line break inside '{column}' (a '\"' opens it, no '\"' closes "
                             "it on this line); put each value on one line")
    values = [fields[i] if i < len(fields) else "" for i in order]
    name, onset_text, offset_text, label = values
    if not name:
        raise InputError(f"{where}: the filename is empty")
    if not (onset_text or offset_text or label):
        return name, None
    if len(fields) < len(COLUMNS) or not (onset_text and offset_text and label):
        raise InputError(f"{where}: expected 4 tab-separated fields (filename, onset, offset, event_label), "
                         f"got {len(fields)}: {line.strip()[:60]!r}")
    onset = _seconds(onset_text, "onset", where)
    offset = _seconds(offset_text, "offset", where)
    if offset < onset:
        raise InputError(f"{where}: offset {offset:g} is before onset {onset:g}")
    return name, ReferenceEvent(label, onset, offset, where)


def _seconds(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {what} {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: {what} {text!r} must be zero or more seconds")
    if value > MAX_SECONDS:
        raise InputError(f"{where}: {what} {value:g} s is more than a week ({MAX_SECONDS} s); reference times are "
                         "in seconds")
    return value
