"""Exported runtimes vs torch on the CPU: the audio tower (ms/clip) and the text tower (50 prompts) through
each runtime's ``encode_prepared`` / ``encode_text`` on the same prepared inputs, their agreement with torch
float32, the export's time and size, and the start-up of ``clap classify`` on one file (export vs torch).

Sides: torch fp32, ONNX Runtime fp32, OpenVINO fp32 (precision hint f32), and OpenVINO bf16 where the CPU
has native bfloat16 (AVX512-BF16/AMX; on an AVX2-only CPU it is emulated, so it is reported as skipped).
Targets (issue 18, on a quiet CPU with AMX): OpenVINO fp32 >= 1.6x torch, bf16 >= 3.5x with cosine
>= 0.9999; fp32 agreement <= 1e-4. On an AVX2-only CPU the ratios are reported as measured.

Usage: python benchmarks/bench_runtime.py [--files 8] [--repeats 3] [--batch 4] [--tiny]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    ESC50_LABELS,
    TEMPLATE,
    interleaved,
    model_dir,
    parser,
    report_header,
    report_ratio,
    report_times,
    setup_torch,
    write_clips,
)


def exported(work: Path, source: Path, fmt: str) -> tuple[Path, float | None]:
    """The export of ``source`` in ``fmt`` under ``work``, written once (seconds it took, when written now)."""
    from clapcli.models.runtime.export import export_model
    from clapcli.models.runtime.manifest import is_export

    target = work / f"{source.name}-{fmt}"
    if is_export(target):
        return target, None
    seconds = time.perf_counter()
    export_model(str(source), target, fmt)
    return target, time.perf_counter() - seconds


def startup(model: Path, clip: Path, repeats: int) -> tuple[float, bool]:
    """Median wall seconds of ``clap classify CLIP`` in a fresh interpreter, and whether it imported torch."""
    script = ("import atexit, sys\n"
              "atexit.register(lambda: sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules)))\n"
              "from clapcli.cli import main\nmain()\n")
    args = [sys.executable, "-c", script, "classify", str(clip), "--labels", "dog,rain", "--model", str(model),
            "-f", "jsonl", "-q"]
    times, imported = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"clap classify failed: {done.stderr.strip()}")
        imported = "TORCH=True" in done.stderr
    return float(np.median(times)), imported


def agreement(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    ref, oth = reference.astype(np.float64), other.astype(np.float64)
    cosine = (ref * oth).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(oth, axis=-1))
    return float(np.abs(ref - oth).max()), float(cosine.min())


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=8)
    p.add_argument("--batch", type=int, default=4, help="model windows per forward pass")
    p.add_argument("--startup-repeats", type=int, default=3, help="fresh processes per start-up side")
    args = p.parse_args()
    setup_torch()
    from clapcli.models.loading import load_embedding_model
    from clapcli.models.precision import cpu_flags, cpu_name, native_bfloat16
    from clapcli.models.runtime.model import load_export

    source = model_dir(args.work, args.tiny)
    exports = {fmt: exported(args.work, source, fmt) for fmt in ("onnx", "openvino")}
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    prompts = [TEMPLATE.format(label) for label in ESC50_LABELS]
    models = {"torch fp32": load_embedding_model(str(source), device="cpu", dtype="float32"),
              "onnx fp32": load_export(exports["onnx"][0]),
              "openvino fp32": load_export(exports["openvino"][0], precision="exact")}
    native = native_bfloat16()
    if native:
        models["openvino bf16"] = load_export(exports["openvino"][0], precision="fast")

    from clapcli.audio.decode import load_audio

    audio = [load_audio(path, models["torch fp32"].sample_rate).samples for path in paths]
    items = {name: [model.prepare(clip) for clip in audio] for name, model in models.items()}
    windows = sum(models["torch fp32"].items_cost(item) for item in items["torch fp32"])

    def audio_side(name: str):
        model, prepared = models[name], items[name]
        return lambda: np.concatenate([model.encode_prepared(prepared[i : i + args.batch]).numpy()
                                       for i in range(0, len(prepared), args.batch)])

    def text_side(name: str):
        return lambda: models[name].encode_text(prompts).numpy()

    for name in models:  # warm-up: sessions are compiled on first use
        audio_side(name)()
        text_side(name)()
    flags = cpu_flags() or set()
    shown = " ".join(sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})) or "unknown"
    report_header("runtime: torch vs ONNX Runtime vs OpenVINO", args,
                  f"files={args.files} x {args.seconds:g} s ({windows} windows), batch={args.batch}, "
                  f"texts={len(prompts)}")
    print(f"cpu: {cpu_name()} flags: {shown}; native bf16: {'yes' if native else 'no (bf16 side skipped)'}")
    for fmt, (path, seconds) in exports.items():
        size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        took = f"{seconds:.1f} s" if seconds is not None else "cached"
        print(f"export {fmt:<9} {size:8.1f} MB  export time {took}  ({path})")
    audio_times, audio_out = interleaved({f"audio {name}": audio_side(name) for name in models}, args.repeats)
    text_times, text_out = interleaved({f"text {name}": text_side(name) for name in models}, args.repeats)
    report_times(audio_times, windows, "clips")
    report_times(text_times, len(prompts), "texts")
    for name, seconds in audio_times.items():
        print(f"ms/clip {name:<24} {1000 * seconds / windows:8.1f}")
    for kind, times, out in (("audio", audio_times, audio_out), ("text", text_times, text_out)):
        reference = out[f"{kind} torch fp32"]
        for name in models:
            if name == "torch fp32":
                continue
            tag = name.replace(" ", "_")
            speedup = times[f"{kind} torch fp32"] / times[f"{kind} {name}"]
            max_diff, cosine = agreement(reference, out[f"{kind} {name}"])
            target = {"openvino fp32": 1.6, "openvino bf16": 3.5}.get(name) if kind == "audio" else None
            label = f">= {target}x" if target and native else "(info)"
            report_ratio(f"{kind}_{tag}_speedup", speedup, label, speedup >= target if target and native else True)
            if name.endswith("fp32"):
                report_ratio(f"{kind}_{tag}_max_diff", max_diff, "<= 1e-4", max_diff <= 1e-4)
            else:
                report_ratio(f"{kind}_{tag}_min_cosine", cosine, ">= 0.9999", cosine >= 0.9999)
    torch_start, torch_imported = startup(source, paths[0], args.startup_repeats)
    export_start, export_imported = startup(exports["openvino"][0], paths[0], args.startup_repeats)
    print(f"startup clap classify 1 file: torch {torch_start:.2f} s (imports torch: {torch_imported}), "
          f"openvino export {export_start:.2f} s (imports torch: {export_imported})")
    report_ratio("startup_torch_over_export", torch_start / export_start, "(info)", True)
    report_ratio("startup_export_imports_torch", float(export_imported), "== 0", not export_imported)


if __name__ == "__main__":
    main()
