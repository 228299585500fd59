"""The default runtime (auto) against ``--runtime torch``: ``clap embed DIR`` with no runtime flag, run on a fresh
clapcli home (the first run exports the model, later runs start from the export), and the break-even that
sets ``EXPORT_PAYS_FROM``.

Each run is one fresh ``python -m clapcli embed DIR`` process on N synthetic 10 s clips (48 kHz), the
full-size random LAION CLAP; runs alternate (torch, default, torch, default, ...) so a burst of load hits
both. Printed: wall seconds per run, the first run's cost (export included) and later runs' speed-up as
ratios of torch's time, the vectors' agreement, the export time from the cache's manifest and the break-even
in clips (export time / time saved per clip).

Target (issue 26): later runs >= 2x ``--runtime torch`` with vectors equal within 1e-5.

Usage: python benchmarks/bench_runtime_default.py [--files 100] [--repeats 2]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys

import numpy as np
from _common import model_dir, parser, report_ratio, write_clips
from bench_embed_runtime import run


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=100)
    args = p.parse_args()
    from clapcli.models.precision import cpu_name, native_bfloat16
    from clapcli.models.runtime.auto import EXPORT_PAYS_FROM

    if args.files < EXPORT_PAYS_FROM:
        raise SystemExit(f"--files {args.files}: the default exports from {EXPORT_PAYS_FROM} files; give at least that")
    source = model_dir(args.work, args.tiny)
    audio = args.work / f"audio48k-{args.files}x{args.seconds:g}s"
    write_clips(audio, args.files, args.seconds, rate=48000, channels=1)
    home = args.work / "default-runtime-home"
    shutil.rmtree(home, ignore_errors=True)  # the first run must export
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLAPCLI_HOME": str(home)}
    env.pop("CLAPCLI_RUNTIME", None)
    out = args.work / "default-runtime-out"
    out.mkdir(exist_ok=True)

    def command(extra: list[str], name: str) -> list[str]:
        return [sys.executable, "-m", "clapcli", "embed", str(audio), "--model", str(source), *extra,
                "--output", str(out / f"{name}.npy"), "--overwrite", "--quiet"]

    print(f"== default runtime vs --runtime torch ({'tiny model' if args.tiny else 'full-size random CLAP'}) ==")
    print(f"cpu: {cpu_name()}, {os.cpu_count()} cores; native bf16: {'yes' if native_bfloat16() else 'no'}; "
          f"load avg {os.getloadavg()[0]:.2f} at start; {args.files} files; export pays from {EXPORT_PAYS_FROM}")
    torch_times, default_times = [], []
    for _ in range(args.repeats + 1):
        torch_times.append(run(command(["--runtime", "torch"], "torch"), env))
        default_times.append(run(command([], "default"), env))
    (export,) = (home / "exports").iterdir()
    manifest = json.loads((export / "clapcli-export.json").read_text(encoding="utf-8"))
    first, later = default_times[0], statistics.median(default_times[1:])
    torch_median = statistics.median(torch_times)
    reference, default = np.load(out / "torch.npy"), np.load(out / "default.npy")
    max_diff = float(np.abs(reference - default).max())
    saved_per_clip = (torch_median - later) / args.files
    export_seconds = float(manifest.get("export_seconds") or 0.0)
    print(f"torch runs   {' '.join(f'{t:.2f}' for t in torch_times)} s")
    print(f"default runs {' '.join(f'{t:.2f}' for t in default_times)} s (first run exports to "
          f"{manifest.get('format', export.name.rsplit('-', 1)[-1])} in {export_seconds:.1f} s)")
    print(f"break-even: {export_seconds:.1f} s export / {saved_per_clip * 1000:.0f} ms saved per clip = "
          f"{export_seconds / saved_per_clip:.0f} clips" if saved_per_clip > 0 else "break-even: never (no saving)")
    report_ratio("first_run_vs_torch", torch_median / first, "(info: export included)", True)
    report_ratio("later_runs_speedup", torch_median / later, ">= 2x", torch_median / later >= 2.0)
    report_ratio("max_abs_diff", max_diff, "<= 1e-5", max_diff <= 1e-5)
    print(f"load avg {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
