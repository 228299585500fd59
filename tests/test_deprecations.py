"""One list of old spellings (clapcli.console.deprecations): every warning that promises a removal
"in the next release" comes from a place the list names, and each listed spelling still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from clapcli.console.deprecations import DEPRECATIONS, REMOVED_IN, files_that_warn

ROOT = Path(__file__).resolve().parents[1]


def test_every_removal_warning_is_listed() -> None:
    warning = [str(path.relative_to(ROOT)) for path in (ROOT / "clapcli").rglob("*.py")
               if "next release" in path.read_text(encoding="utf-8")]
    assert warning and set(warning) <= files_that_warn(), set(warning) - files_that_warn()
    assert all(d.removed_in == REMOVED_IN for d in DEPRECATIONS)


@pytest.mark.parametrize(("args", "said"), [
    (["retrieve", "rain", "--captions", "NONE", "--embeddings", "NONE"], "--captions is now --captions-file"),
    (["classify", "x.wav", "-l", "a,b", "--dtype", "bfloat16"], "--dtype bfloat16 is now --precision bfloat16"),
])
def test_old_spellings_still_parse_with_one_warning(cli, tmp_path: Path, args: list[str], said: str) -> None:
    args = [str(tmp_path / "none.parquet") if a == "NONE" else a for a in args]
    result = cli(args)
    assert said in result.stderr
    assert result.exit_code != 2 or said in result.stderr  # parsed; it may still fail later on the missing input
