"""Long audio: peak RSS of ``clap embed`` on one 3-hour file vs one 10-minute file (issue 12, item 7).

Each run is a fresh process; its peak resident set size comes from ``os.wait4`` (the kernel's
``ru_maxrss``). The files are 44.1 kHz stereo 16-bit WAVs (a 3-hour one is 1.9 GB), written block by
block into a temporary directory and removed afterwards. clapcli reads a long file in blocks and
sends its windows through the model ``batch_size`` at a time, so the peak should not grow with the
file's length (before, a 3-hour file took 6.2 GB with the tiny model and was killed at 23.5 GB with
the full-size one). Target: peak(3 h) within 1.2x of peak(10 min), for the full-size random CLAP and
the tiny model.

Usage: python benchmarks/bench_long_audio.py [--short-minutes 10] [--long-minutes 180] [--tiny]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, model_dir, parser, report_header, report_ratio, timed

RATE = 44100
BLOCK_SECONDS = 10


def write_long_wav(path: Path, minutes: float, seed: int = 0) -> Path:
    """A ``minutes``-long 44.1 kHz stereo PCM_16 WAV (a gliding tone under noise), written in blocks."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    frames = int(minutes * 60 * RATE)
    block = BLOCK_SECONDS * RATE
    with sf.SoundFile(str(path), "w", RATE, 2, subtype="PCM_16") as out:
        for start in range(0, frames, block):
            t = np.arange(start, min(frames, start + block)) / RATE
            mono = 0.3 * np.sin(2 * np.pi * (300 + 200 * np.sin(2 * np.pi * t / 97)) * t)
            mono += 0.05 * rng.standard_normal(len(t))
            out.write(np.stack([mono, 0.8 * mono], axis=1).astype(np.float32))
    return path


# Measures its child from a small interpreter: a child's ru_maxrss starts at the RSS of the process
# it was forked from (Linux carries the pre-exec high-water mark over), which here holds torch and,
# on a first run, the full-size model being built.
_MEASURE = ("import os, subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "_, status, usage = os.wait4(child.pid, 0)\n"
            "print(usage.ru_maxrss)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``command`` run to completion in a fresh process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[3:5]} failed ({done.returncode}): {done.stderr[-800:]!r}")
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - start


def check_disk(folder: Path, minutes: float) -> None:
    need = minutes * 60 * RATE * 2 * 2 * 1.1  # stereo 16-bit, plus 10%
    free = shutil.disk_usage(folder).free
    if free < need:
        raise SystemExit(f"{folder}: needs {need / 1e9:.1f} GB free for the long WAV, has {free / 1e9:.1f} GB")


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=1)
    p.add_argument("--short-minutes", type=float, default=10.0, help="length of the short file")
    p.add_argument("--long-minutes", type=float, default=180.0, help="length of the long file")
    p.add_argument("--tmp", type=Path, default=None, help="where the WAVs are written (default: system temp)")
    args = p.parse_args()
    models = {"tiny": model_dir(args.work, tiny=True)}
    if not args.tiny:
        models = {"full": model_dir(args.work, tiny=False), **models}
    report_header("long audio: peak RSS of clap embed, one long file vs one short", args,
                  f"files: {args.short_minutes:g} min vs {args.long_minutes:g} min, 44.1 kHz stereo PCM_16")
    with tempfile.TemporaryDirectory(prefix="clapcli-long-", dir=args.tmp) as tmp:
        folder = Path(tmp)
        check_disk(folder, args.short_minutes + args.long_minutes)
        files = {}
        for label, minutes in (("short", args.short_minutes), ("long", args.long_minutes)):
            seconds, files[label] = timed(lambda m=minutes, lb=label: write_long_wav(folder / f"{lb}.wav", m))
            print(f"wrote {files[label].name}: {minutes:g} min, {files[label].stat().st_size / 1e9:.2f} GB "
                  f"({seconds:.1f} s)")
        for name, directory in models.items():
            peaks = {}
            for label, path in files.items():
                out = folder / f"{name}-{label}.npy"
                command = [sys.executable, "-m", "clapcli", "embed", str(path), "-m", str(directory),
                           "--device", "cpu", "--output", str(out), "--quiet", "--overwrite"]
                peaks[label], wall = peak_rss_mb(command)
                print(f"peak RSS  {name:<4} {label:<5} {peaks[label]:8.1f} MB  ({wall:.1f} s)")
            ratio = peaks["long"] / peaks["short"]
            report_ratio(f"long_audio_peak_ratio_{name}", ratio, "<= 1.20", ratio <= 1.20)


if __name__ == "__main__":
    main()
