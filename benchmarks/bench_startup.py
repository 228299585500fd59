"""Start-up: ``clap --help`` wall time, whether help imports torch, and a whole ``clap classify``
command on one file vs the equivalent hand-written transformers script, each a fresh process.

The script side (what a user would otherwise run)::

    from transformers import pipeline; import librosa
    pipe = pipeline("zero-shot-audio-classification", model=DIR)
    audio, _ = librosa.load(FILE, sr=48000)
    print(pipe(audio, candidate_labels=LABELS)[0])

The clapcli side: ``clap classify FILE --labels ... -m DIR --device cpu --top-k 1 --format csv``.
Both load the same local checkpoint and classify against the same 50 labels. Alternating runs, medians.
A bare ``python -c pass`` is timed too: the interpreter's own start-up on this machine (under load).
Targets: ``clap --help`` < 0.5 s; ``clap classify`` / script <= 1.0.

Usage: python benchmarks/bench_startup.py [--repeats 3] [--labels 50] [--tiny]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _common import (
    ESC50_LABELS,
    ROOT,
    TEMPLATE,
    interleaved,
    model_dir,
    parser,
    report_header,
    report_ratio,
    setup_torch,
    write_clips,
)

SCRIPT = """
import sys
import torch
torch.set_num_threads({threads})
import librosa
from transformers import pipeline
pipe = pipeline("zero-shot-audio-classification", model=sys.argv[1], device="cpu")
audio, _ = librosa.load(sys.argv[2], sr=48000)
best = pipe(audio, candidate_labels=sys.argv[3].split(","), hypothesis_template={template!r})[0]
print(sys.argv[2], best["label"], best["score"])
"""

HELP_IMPORTS = (
    "import sys; sys.argv = ['clap', '--help']\n"
    "from clapcli.cli import app\n"
    "try:\n    app()\nexcept SystemExit:\n    pass\n"
    "heavy = [m for m in ('torch', 'transformers', 'numpy', 'librosa', 'scipy') if m in sys.modules]\n"
    "print('HEAVY', ','.join(heavy))\n"
)


def clap_command() -> list[str]:
    """The installed console script when present (no pyenv shim), else ``python -m clapcli``."""
    script = Path(sys.executable).parent / "clap"
    return [str(script)] if script.exists() else [sys.executable, "-m", "clapcli"]


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({done.returncode}): {done.stderr[-800:]}")
    return done.stdout


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=1)
    p.add_argument("--labels", type=int, default=50)
    args = p.parse_args()
    setup_torch()
    directory = model_dir(args.work, args.tiny)
    clip = write_clips(args.work / "audio", 1, args.seconds)[0]
    labels = ",".join(ESC50_LABELS[: args.labels])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", "CLAPCLI_DEVICE": "cpu"}
    clap = clap_command()
    script = SCRIPT.format(threads=2, template=TEMPLATE)
    sides = {
        "python -c pass (floor)": lambda: run([sys.executable, "-c", "pass"], env),
        "clap --help": lambda: run([*clap, "--help"], env),
        "clap classify --help": lambda: run([*clap, "classify", "--help"], env),
        "clap classify (1 file)": lambda: run([*clap, "classify", str(clip), "--labels", labels, "-m", str(directory),
                                               "--top-k", "1", "--format", "csv", "--quiet"], env),
        "pipeline script (1 file)": lambda: run([sys.executable, "-c", script, str(directory), str(clip), labels], env),
    }
    run([*clap, "--help"], env)  # warm the OS file cache for both
    report_header("startup: whole commands in fresh processes", args, f"labels={args.labels}")
    times, results = interleaved(sides, args.repeats)
    for name, seconds in times.items():
        print(f"time  {name:<28} {seconds:8.3f} s")
    heavy = run([sys.executable, "-c", HELP_IMPORTS], env).strip().splitlines()[-1].removeprefix("HEAVY").strip()
    print(f"modules imported by 'clap --help' among torch/transformers/numpy/librosa/scipy: {heavy or 'none'}")
    ours_top = results["clap classify (1 file)"].strip().splitlines()[-1].split(",")
    theirs = results["pipeline script (1 file)"].strip().split(" ", 1)[1]
    print(f"top-1: clap {ours_top[2]!r} ({ours_top[3][:8]}), script {theirs!r}")
    report_ratio("help_seconds", times["clap --help"], "< 0.5", times["clap --help"] < 0.5)
    report_ratio("help_imports_torch", float("torch" in heavy), "== 0", "torch" not in heavy)
    ratio = times["clap classify (1 file)"] / times["pipeline script (1 file)"]
    report_ratio("classify_one_file_over_script", ratio, "<= 1.0", ratio <= 1.0)


if __name__ == "__main__":
    main()
