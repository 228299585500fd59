"""PE-Audio on the exported runtimes, and frame-level detection against CLAP's sliding window.

Every side is a real ``clap`` command in its own fresh process, under an address-space limit
(``--memory-gb``, RLIMIT_AS set in the child), timed end to end (model load included: what a user waits
for) with its peak RSS (``os.wait4``'s ``ru_maxrss``, measured from a small interpreter, see
bench_long_audio.py).

1. ``clap embed`` and ``clap classify`` of ``--files`` 10 s clips: torch float32 vs the ONNX Runtime and
   OpenVINO exports (exact = float32) and OpenVINO ``--precision fast`` (bfloat16 where the CPU has it
   natively). The exports are written once by ``clap export`` (its time is reported: auto's question is
   whether a job pays for it). Agreement with torch: max |difference| and min cosine of the raw embeddings.
2. ``clap detect`` of one ``--minutes`` long file (default 10): the frame-level model (its own 40 ms
   frames, torch, and its OpenVINO export) vs a CLAP model's sliding windows (10 s windows, the default
   5 s hop, and a 1 s hop).

Models: full-size random weights. PE: transformers' default ``PeAudioConfig`` audio encoder (282M, the
model card's sizes of the released checkpoints are not available offline) with a ModernBERT-large text
tower, as a ``PeAudioFrameLevelModel`` (its clip path is the one ``pe-a-frame-*`` serve for classify /
embed); CLAP: the architecture of laion/clap-htsat-unfused (benchmarks/_common.py).

Usage: python benchmarks/bench_pe_export.py [--files 6] [--minutes 10] [--memory-gb 12] [--tiny]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import ESC50_LABELS, ROOT, model_dir, parser, report_ratio, write_clips
from bench_long_audio import write_long_wav

LABELS = ",".join(ESC50_LABELS[:10])
# A child under an address-space limit, measured by its parent (a small interpreter): peak RSS in kB.
_MEASURE = ("import os, resource, subprocess, sys\n"
            "limit = int(sys.argv[1])\n"
            "def cap():\n"
            "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
            "child = subprocess.Popen(sys.argv[2:], stdout=open(os.environ['BENCH_STDOUT'], 'wb'), preexec_fn=cap)\n"
            "_, status, usage = os.wait4(child.pid, 0)\n"
            "print(usage.ru_maxrss)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_clap(args: list[str], limit: int, stdout: Path, home: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of ``python -m clapcli ARGS`` in a fresh, memory-limited process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BENCH_STDOUT": str(stdout), "CLAPCLI_HOME": str(home),
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", _MEASURE, str(limit), sys.executable, "-m", "clapcli", *map(str, args)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"clap {' '.join(map(str, args[:3]))} failed ({done.returncode}): {done.stderr[-800:]}")
    return seconds, int(done.stdout.split()[-1]) / 1024


def pe_frame_dir(work: Path, tiny: bool) -> Path:
    """The frame-level benchmark checkpoint, built once (tiny: the tests' tiny frame model)."""
    path = work / ("tiny-pe-frame" if tiny else "pe-frame-default-random")
    if (path / "config.json").exists() and (path / "preprocessor_config.json").exists():
        return path
    sys.path.insert(0, str(ROOT / "tests" / "pe_audio"))
    from pe_models import build_tiny_pe_audio

    if tiny:
        return build_tiny_pe_audio(path, frame_level=True)
    import torch
    from bench_pe_audio import build_full_pe_audio
    from transformers import PeAudioFrameLevelModel

    build_full_pe_audio(path)  # PeAudioModel's weights; the frame class has the same tensors
    model = PeAudioFrameLevelModel.from_pretrained(path).eval()
    with torch.no_grad():
        model.save_pretrained(path)
    return path


def vectors(path: Path) -> dict[str, np.ndarray]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row.get("path") or row.get("text"): np.array(row["embedding"]) for row in rows}


def agreement(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> tuple[float, float]:
    keys = sorted(reference)
    a, b = np.stack([reference[k] for k in keys]), np.stack([other[k] for k in keys])
    cosine = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(np.abs(a - b).max()), float(cosine.min())


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=6)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the detection file")
    p.add_argument("--memory-gb", type=float, default=12.0, help="address-space limit of every child")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: runtimes, detect")
    p.add_argument("--commands", default="embed,classify", help="part 1: which commands to time")
    p.add_argument("--clap-hops", default="5,1", help="part 2: the CLAP sliding-window hops (seconds)")
    args = p.parse_args()
    limit = int(args.memory_gb * 2**30)
    work = args.work
    out = work / "pe-export-out"
    out.mkdir(parents=True, exist_ok=True)
    home = work / "pe-export-home"  # the exports auto would cache, kept apart from the user's
    pe = pe_frame_dir(work, args.tiny)
    clap = model_dir(work, args.tiny)
    paths = write_clips(work / "audio", args.files, args.seconds)
    print(f"== PE-Audio exports and frame detection ({'tiny models' if args.tiny else 'full-size random'}) ==")
    print(f"machine: {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}, AMD EPYC-class CPU flags "
          f"{'avx512_bf16' if 'avx512_bf16' in Path('/proc/cpuinfo').read_text() else 'no avx512_bf16'}; "
          f"children limited to {args.memory_gb:g} GB address space")
    skip = set(filter(None, args.skip.split(",")))
    if "runtimes" not in skip:
        runtimes(args, pe, paths, out, home, limit)
    if "detect" not in skip:
        detect(args, pe, clap, out, home, limit)


def runtimes(args, pe: Path, paths: list[Path], out: Path, home: Path, limit: int) -> None:
    exports = {}
    for fmt in ("onnx", "openvino"):
        target = out / f"pe-{fmt}"
        seconds, peak = run_clap(["export", pe, target, "--format", fmt, "--overwrite", "--json"], limit,
                                 out / f"export-{fmt}.json", home)
        exports[fmt] = target
        manifest = json.loads((out / f"export-{fmt}.json").read_text())
        print(f"export {fmt:<9} {seconds:8.1f} s  peak {peak:7.0f} MB  agreement {manifest['agreement']}")
    sides = {"torch fp32": (pe, "torch", "exact"), "onnx exact": (exports["onnx"], "onnx", "exact"),
             "openvino exact": (exports["openvino"], "openvino", "exact"),
             "openvino fast": (exports["openvino"], "openvino", "fast")}
    times: dict[tuple[str, str], float] = {}
    found: dict[str, dict[str, np.ndarray]] = {}
    commands = [c for c in ("embed", "classify") if c in args.commands.split(",")]
    for command in commands:
        for name, (model, runtime, precision) in sides.items():
            extra = ["--no-normalize", "--text", "a dog barking"] if command == "embed" else ["--labels", LABELS]
            stdout = out / f"{command}-{name.replace(' ', '-')}.jsonl"
            seconds, peak = run_clap([command, *paths, "--model", model, "--runtime", runtime, "--precision", precision,
                                      "-f", "jsonl", *extra], limit, stdout, home)
            times[command, name] = seconds
            print(f"time  {command:<8} {name:<15} {seconds:8.2f} s  ({len(paths) / seconds:5.2f} files/s)  "
                  f"peak {peak:7.0f} MB")
            if command == "embed":
                found[name] = vectors(stdout)
    for name in ("onnx exact", "openvino exact", "openvino fast"):
        diff, cosine = agreement(found["torch fp32"], found[name])
        key = name.replace(" ", "_")
        report_ratio(f"pe_{key}_max_diff", diff, "<= 1e-4" if "exact" in name else "(info)",
                     diff <= 1e-4 or "fast" in name)
        report_ratio(f"pe_{key}_min_cosine", cosine, ">= 0.99", cosine >= 0.99)
        for command in commands:
            ratio = times[command, "torch fp32"] / times[command, name]
            report_ratio(f"pe_{command}_{key}_speedup", ratio, "(info)", True)


def detect(args, pe: Path, clap: Path, out: Path, home: Path, limit: int) -> None:
    long_file = out / f"long-{args.minutes:g}min.wav"
    if not long_file.exists():
        write_long_wav(long_file, args.minutes)
    openvino = out / "pe-openvino"
    hops = [float(h) for h in args.clap_hops.split(",") if h]
    sides = {"pe frames torch": [pe, "--runtime", "torch"],
             **{f"clap window 10 s hop {h:g} s": [clap, "--runtime", "torch", "--hop", f"{h:g}"] for h in hops}}
    if (openvino / "clapcli-export.json").exists():
        sides["pe frames openvino"] = [openvino]
    results = {}
    for name, model_args in sides.items():
        stdout = out / f"detect-{name.replace(' ', '-')}.json"
        seconds, peak = run_clap(["detect", long_file, "--model", *model_args, "--labels", LABELS, "-f", "json"],
                                 limit, stdout, home)
        results[name] = (seconds, peak)
        print(f"detect {name:<26} {seconds:8.1f} s  ({args.minutes * 60 / seconds:6.1f} x real time)  "
              f"peak {peak:7.0f} MB")
    pe_time, pe_peak = results["pe frames torch"]
    for hop in hops:
        name, key = f"clap window 10 s hop {hop:g} s", f"hop{hop:g}"
        report_ratio(f"detect_pe_over_clap_{key}_time", pe_time / results[name][0], "(info)", True)
        report_ratio(f"detect_pe_over_clap_{key}_peak", pe_peak / results[name][1], "(info)", True)
    if "pe frames openvino" in results:
        report_ratio("detect_pe_openvino_speedup", pe_time / results["pe frames openvino"][0], "(info)", True)


if __name__ == "__main__":
    main()
