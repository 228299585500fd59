"""Where a Stable Audio 3 clip's time goes: fixed cost (prompt encoding, setup) vs per DiT step vs SAME decode.

On the full-size random pipeline of ``bench_generate_stable_audio.py`` (Stable Audio 3 small shapes; random
weights cost the same as the real ones), one clip of ``--seconds`` per dtype, timed from the pipeline's own
step callback: per-step cost is the median gap between step ends after the first; the fixed part is the
first step's end minus one step; decode is the last step's end to the return. From these, seconds per
generated second at 4, 8 and 16 steps (fixed + n x per step + decode). Runs in a child process under an
address-space limit, as the other full-size benchmark.

    python benchmarks/bench_sa3_steps.py            # full size, ~4 GB RAM
    python benchmarks/bench_sa3_steps.py --tiny     # smoke test of the script
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import THREADS, report_ratio  # noqa: E402
from bench_generate_stable_audio import PROMPT, full_pipeline, limited_main, tiny_pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny random pipeline (smoke test)")
    p.add_argument("--seconds", type=float, default=None, help="length generated (default 10; tiny: 1)")
    p.add_argument("--steps", type=int, default=8, help="steps of the timed run (at least 3)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per dtype (medians)")
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--memory-limit-gb", type=float, default=12.0)
    p.add_argument("--work", type=Path, default=None, help="where the tiny pipeline is cached")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.seconds = args.seconds or (1.0 if args.tiny else 10.0)
    args.steps = max(args.steps, 3)
    return args


def split(pipe, args: argparse.Namespace) -> tuple[float, float, float]:
    """(fixed, per step, decode) seconds of one clip."""
    import torch

    ends: list[float] = []

    def on_step(pipeline: object, step: int, timestep: object, tensors: dict) -> dict:
        ends.append(time.perf_counter())
        return tensors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pipe(PROMPT, duration=args.seconds, num_inference_steps=args.steps, output_type="pt",
             generator=torch.Generator().manual_seed(0), callback_on_step_end=on_step)
        done = time.perf_counter()
    per_step = statistics.median(b - a for a, b in zip(ends, ends[1:], strict=False))
    return ends[0] - start - per_step, per_step, done - ends[-1]


def run(args: argparse.Namespace) -> None:
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    work = args.work or ROOT / "benchmarks" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    pipe = tiny_pipeline(work) if args.tiny else full_pipeline()
    print(f"# Stable Audio 3 step split ({'tiny' if args.tiny else 'full-size random, small shapes'}): "
          f"{args.seconds:g} s clip, {args.steps} steps, guidance off; {args.threads} torch threads; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (loaded machine)")
    per_step = {}
    for dtype_name in args.dtypes.split(","):
        pipe.to(getattr(torch, dtype_name))
        split(pipe, argparse.Namespace(**{**vars(args), "steps": 3}))  # warm-up
        runs = [split(pipe, args) for _ in range(args.repeats)]
        fixed, step, decode = (statistics.median(values) for values in zip(*runs, strict=True))
        per_step[dtype_name] = step
        costs = ", ".join(f"{n} steps {(fixed + n * step + decode) / args.seconds:.3f}" for n in (4, 8, 16))
        print(f"{dtype_name:>9}: fixed {fixed:7.2f} s, per DiT step {step:7.2f} s, decode {decode:7.2f} s; "
              f"s per generated second: {costs}")
        share = args.steps * step / (fixed + args.steps * step + decode)
        report_ratio(f"sa3_{dtype_name}_step_share", share, "informational", True)
    if "float32" in per_step and "bfloat16" in per_step:
        speedup = per_step["float32"] / per_step["bfloat16"]
        report_ratio("sa3_bfloat16_step_speedup", speedup, ">= 1", speedup >= 1)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    limited_main(__file__, parse_args(), run)


if __name__ == "__main__":
    main()
