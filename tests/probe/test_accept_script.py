"""benchmarks/accept_probe.py in --tiny mode: the probe at least scikit-learn's, well above chance."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_accept_probe_tiny(tmp_path, tiny_clap, capsys, monkeypatch):
    (tmp_path / "tiny-clap").symlink_to(tiny_clap)
    monkeypatch.setattr(sys, "argv", ["accept_probe.py", "--tiny", "--classes", "4", "--per-class", "8",
                                      "--seconds", "1", "--work", str(tmp_path)])
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(BENCHMARKS / "accept_probe.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert ended.value.code == 0 and "PASS" in printed, printed
    line = next(x for x in printed.splitlines() if x.startswith("held-out accuracy"))
    values = dict(zip(["chance", "zero-shot", "sklearn", "probe"],
                      [float(w) for w in line.replace("(", " ").split() if w.replace(".", "").isdigit()][:4]))
    assert values["probe"] >= values["sklearn"] and values["probe"] > 2 * values["chance"]
