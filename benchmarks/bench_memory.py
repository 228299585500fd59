"""Memory: peak RSS of a whole ``clap embed DIR --output OUT.npy`` run over 500 files vs 50 files.

Each run is a fresh process; its peak resident set size comes from ``os.wait4`` (the kernel's
``ru_maxrss``). The files are distinct 10 s, 44.1 kHz stereo WAVs (the directories hold symlinks
to them). Streaming keeps at most ``prefetch`` decoded inputs and one batch alive, so the peak
should not grow with the number of files. Target: peak(500) within 10% of peak(50).

Usage: python benchmarks/bench_memory.py [--files 500] [--tiny]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, model_dir, parser, report_header, report_ratio, setup_torch, write_clips


def linked_dir(root: Path, paths: list[Path]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    for path in paths:
        (root / path.name).symlink_to(path.resolve())
    return root


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``command`` run to completion."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed ({process.returncode}): {process.stderr.read()[-800:]!r}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    args = parser(__doc__.splitlines()[0], files=500).parse_args()
    setup_torch()
    directory = model_dir(args.work, args.tiny)
    small = max(2, args.files // 10)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    report_header("memory: peak RSS of clap embed, many files vs few", args,
                  f"files={small} vs {args.files} x {args.seconds:g} s")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (small, args.files):
            folder = linked_dir(args.work / f"memory-{count}", paths[:count])
            out = Path(tmp) / f"out{count}.npy"
            command = [sys.executable, "-m", "clapcli", "embed", str(folder), "-m", str(directory),
                       "--device", "cpu", "--output", str(out), "--quiet", "--overwrite"]
            results[count] = peak_rss_mb(command)
            print(f"peak RSS  {count:5d} files  {results[count][0]:8.1f} MB  ({results[count][1]:.1f} s)")
    ratio = results[args.files][0] / results[small][0]
    report_ratio("memory_peak_ratio", ratio, "<= 1.10", ratio <= 1.10)


if __name__ == "__main__":
    main()
