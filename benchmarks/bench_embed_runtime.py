"""End to end: the real ``clap embed`` CLI per runtime and precision, on the same audio files and texts.

Each side is one fresh ``python -m clapcli embed`` process (start-up, model load, decode, features, forward,
writer: what a user waits for), on N synthetic 10 s clips at 48 kHz (audio) and on the 50 ESC-50 prompts
(``--text-file``, the text side of ``clap classify`` with 50 labels). Sides alternate within each round, so
a burst of load from other processes hits all of them; min and median wall seconds per side, ratios of
medians vs torch fp32, and the agreement of each side's embeddings with torch fp32's (max abs diff, min
cosine) are printed.

Sides: torch fp32 (``--precision exact``), ONNX Runtime and OpenVINO exact (float32, from ``clap export``
directories), OpenVINO fast and torch fast (bfloat16 where the CPU has it natively, else float32), torch
int8 (dynamic int8 of the linear layers), ONNX Runtime int8 (dynamic int8 of the MatMuls, quantized once into
clapcli's cache by the warm-up round).
Targets (issue 18, on a CPU with AVX512-BF16/AMX, quiet): OpenVINO exact >= 1.6x torch fp32 on the audio
side, fast >= 3.5x with cosine >= 0.9999, the text side >= 1.3x; exact agreement <= 1e-4.

Usage: python benchmarks/bench_embed_runtime.py [--files 64] [--repeats 3] [--sides "torch fp32,openvino fast"]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import ESC50_LABELS, TEMPLATE, model_dir, parser, report_ratio, write_clips
from bench_runtime import agreement, exported

REFERENCE = "torch fp32"
# side -> (model: "source" | an export format, clap embed options)
SIDES: dict[str, tuple[str, list[str]]] = {
    "torch fp32": ("source", ["--runtime", "torch", "--precision", "exact"]),
    "onnx exact": ("onnx", ["--runtime", "onnx", "--precision", "exact"]),
    "openvino exact": ("openvino", ["--runtime", "openvino", "--precision", "exact"]),
    "openvino fast": ("openvino", ["--runtime", "openvino", "--precision", "fast"]),
    "torch fast": ("source", ["--runtime", "torch", "--precision", "fast"]),
    "torch int8": ("source", ["--runtime", "torch", "--precision", "int8"]),
    "onnx int8": ("onnx", ["--runtime", "onnx", "--precision", "int8"]),
}
TARGETS = {("audio", "openvino exact"): 1.6, ("audio", "openvino fast"): 3.5, ("text", "openvino exact"): 1.3,
           ("text", "openvino fast"): 1.3}


def embed_command(model: Path, options: list[str], inputs: list[str], out: Path) -> list[str]:
    return [sys.executable, "-m", "clapcli", "embed", *inputs, "--model", str(model), *options,
            "--output", str(out), "--overwrite", "--quiet"]


def run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[2:])} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def interleaved_runs(commands: dict[str, list[str]], repeats: int, env: dict[str, str]) -> dict[str, list[float]]:
    """One warm-up round (file cache, compiled kernels cache), then ``repeats`` alternating rounds."""
    for args in commands.values():
        run(args, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, args in commands.items():
            times[name].append(run(args, env))
    return times


def report(kind: str, times: dict[str, list[float]], outputs: dict[str, Path], count: int, native: bool) -> None:
    reference = np.load(outputs[REFERENCE])
    base_median, base_min = statistics.median(times[REFERENCE]), min(times[REFERENCE])
    print(f"-- {kind}: {count} {'files' if kind == 'audio' else 'texts'}, wall seconds per clap embed process")
    print(f"{'side':<16} {'min':>8} {'median':>8} {'vs torch (median)':>18} {'(min)':>7} {'max diff':>10} "
          f"{'min cosine':>11}")
    for name, values in times.items():
        max_diff, cosine = agreement(reference, np.load(outputs[name]))
        median, fastest = statistics.median(values), min(values)
        print(f"{name:<16} {fastest:8.2f} {median:8.2f} {base_median / median:17.2f}x {base_min / fastest:6.2f}x "
              f"{max_diff:10.2e} {cosine:11.6f}")
        if name == REFERENCE:
            continue
        tag = f"{kind}_{name.replace(' ', '_')}"
        target = TARGETS.get((kind, name))
        checked = target is not None and native
        speedup = base_median / median
        report_ratio(f"{tag}_speedup", speedup, f">= {target}x" if checked else "(info)",
                     speedup >= target if checked else True)
        if name.endswith("exact"):
            report_ratio(f"{tag}_max_diff", max_diff, "<= 1e-4", max_diff <= 1e-4)
        elif name.endswith("fast"):
            report_ratio(f"{tag}_min_cosine", cosine, ">= 0.9999", cosine >= 0.9999)
        else:
            report_ratio(f"{tag}_min_cosine", cosine, "(info)", True)


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=64)
    p.add_argument("--sides", default=",".join(SIDES), help="comma-separated sides (torch fp32 always runs)")
    p.add_argument("--skip-text", action="store_true", help="only the audio side")
    args = p.parse_args()
    from clapcli.models.precision import cpu_flags, cpu_name, native_bfloat16

    names = [REFERENCE] + [name.strip() for name in args.sides.split(",") if name.strip() not in ("", REFERENCE)]
    unknown = [name for name in names if name not in SIDES]
    if unknown:
        raise SystemExit(f"unknown sides {unknown}; choose from {', '.join(SIDES)}")
    source = model_dir(args.work, args.tiny)
    formats = sorted({SIDES[name][0] for name in names} - {"source"})
    exports = {fmt: exported(args.work, source, fmt) for fmt in formats}
    models = {"source": source, **{fmt: path for fmt, (path, _) in exports.items()}}
    audio_dir = args.work / f"audio48k-{args.files}x{args.seconds:g}s"
    write_clips(audio_dir, args.files, args.seconds, rate=48000, channels=1)
    labels = args.work / "esc50-prompts.txt"
    labels.write_text("".join(TEMPLATE.format(label) + "\n" for label in ESC50_LABELS), encoding="utf-8")
    out = args.work / "embed-runtime-out"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLAPCLI_HOME": str(args.work / "clapcli-home")}

    flags = cpu_flags() or set()
    shown = " ".join(sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})) or "unknown"
    native = native_bfloat16()
    print(f"== clap embed end to end per runtime ({'tiny model' if args.tiny else 'full-size random CLAP'}) ==")
    print(f"cpu: {cpu_name()}, {os.cpu_count()} cores, flags: {shown}; native bf16: {'yes' if native else 'no'}; "
          f"load avg {os.getloadavg()[0]:.2f} at start")
    for fmt, (path, seconds) in exports.items():
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        print(f"export {fmt:<9} {size:8.1f} MB  export time {f'{seconds:.1f} s' if seconds else 'cached'}  ({path})")
    kinds = [("audio", [str(audio_dir)], args.files)]
    if not args.skip_text:
        kinds.append(("text", ["--text-file", str(labels)], len(ESC50_LABELS)))
    for kind, inputs, count in kinds:
        outputs = {name: out / f"{kind}-{name.replace(' ', '-')}.npy" for name in names}
        commands = {name: embed_command(models[SIDES[name][0]], SIDES[name][1], inputs, outputs[name])
                    for name in names}
        times = interleaved_runs(commands, args.repeats, env)
        report(kind, times, outputs, count, native)
    print(f"load avg {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
