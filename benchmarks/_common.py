"""Shared helpers for the benchmarks: the cached full-size random CLAP, audio on disk, timing.

The full-size model has the architecture of ``laion/clap-htsat-unfused`` (HTSAT-tiny audio tower,
RoBERTa-base text tower, 512-d projections, ~153M parameters), with random weights: same cost as
the released checkpoint, no download. Its byte-level BPE tokenizer is trained offline on English
text found on this machine (Python docs and docstrings) plus sound-label prompts, so labels split
into about as many tokens as with the real RoBERTa vocabulary.

Everything is cached under ``benchmarks/_work/`` (gitignored), or ``--work DIR``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_WORK = ROOT / "benchmarks" / "_work"
THREADS = 2  # both sides of every comparison get the same torch thread count

# The 50 ESC-50 classes: a realistic zero-shot label set.
ESC50_LABELS = (
    "dog, rooster, pig, cow, frog, cat, hen, insects, sheep, crow, rain, sea waves, crackling fire, crickets, "
    "chirping birds, water drops, wind, pouring water, toilet flush, thunderstorm, crying baby, sneezing, clapping, "
    "breathing, coughing, footsteps, laughing, brushing teeth, snoring, drinking sipping, door wood knock, "
    "mouse click, keyboard typing, door wood creaks, can opening, washing machine, vacuum cleaner, clock alarm, "
    "clock tick, glass breaking, helicopter, chainsaw, siren, car horn, engine, train, church bells, airplane, "
    "fireworks, hand saw"
).split(", ")
TEMPLATE = "This is a sound of {}."


def parser(description: str, files: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tiny", action="store_true", help="use a tiny random model (smoke test of the script)")
    p.add_argument("--files", type=int, default=files, help="number of audio files")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per side (medians are reported)")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache directory for models and audio")
    return p


def setup_torch() -> None:
    import torch

    torch.set_num_threads(THREADS)


# ---------------------------------------------------------------------------------------------- models


def model_dir(work: Path, tiny: bool) -> Path:
    """The benchmark checkpoint, built once: tiny (for tests) or full-size random CLAP."""
    path = work / ("tiny-clap" if tiny else "clap-htsat-unfused-random")
    if (path / "config.json").exists() and (path / "preprocessor_config.json").exists():
        return path
    if tiny:
        from tiny_models import build_tiny_clap

        return build_tiny_clap(path)
    return build_full_clap(path)


def build_full_clap(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    tokenizer = build_realistic_tokenizer(path / "_tok")
    text = ClapTextConfig(
        vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=514, type_vocab_size=1, projection_dim=512, pad_token_id=1, bos_token_id=0,
        eos_token_id=2,
    )
    audio = ClapAudioConfig(
        depths=[2, 2, 6, 2], num_attention_heads=[4, 8, 16, 32], patch_embeds_hidden_size=96, hidden_size=768,
        window_size=8, spec_size=256, num_mel_bins=64, projection_dim=512, enable_fusion=False,
    )
    config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512)
    torch.manual_seed(seed)
    model = ClapModel(config).eval()
    params = sum(p.numel() for p in model.parameters())
    assert 150e6 < params < 156e6, f"expected ~153M parameters, got {params / 1e6:.1f}M"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    # The unfused checkpoint's preprocessor: rand_trunc (exactly-10 s clips are never cut) + repeatpad.
    ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad").save_pretrained(path)
    return path


def build_realistic_tokenizer(path: Path, vocab_size: int = 50265):
    """Byte-level BPE with RoBERTa's special tokens, trained offline on local English text."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    corpus = _english_corpus()
    bpe.train_from_iterator(corpus, vocab_size=vocab_size, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    path.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(path))
    # transformers 5 takes ``vocab``/``merges``; ``vocab_file=`` would silently give 5 tokens.
    tokenizer = RobertaTokenizer(vocab=str(path / "vocab.json"), merges=str(path / "merges.txt"), model_max_length=512)
    assert len(tokenizer) > 5000, len(tokenizer)
    return tokenizer


def _english_corpus() -> list[str]:
    """Docs and docstrings of the Python standard library and installed packages, plus label prompts."""
    import sysconfig

    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    lines: list[str] = []
    budget = 40_000_000  # characters
    for root in roots:
        for file in sorted(root.rglob("*")):
            if file.suffix not in (".py", ".md", ".rst", ".txt") or budget <= 0:
                continue
            try:
                text = file.read_text(encoding="utf-8", errors="ignore")
            except OSError:
                continue
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
            budget -= len(text)
    lines.extend(TEMPLATE.format(label) for label in ESC50_LABELS * 20)
    return lines


# ----------------------------------------------------------------------------------------------- audio


def write_clips(directory: Path, count: int, seconds: float = 10.0, rate: int = 44100, channels: int = 2,
                prefix: str = "clip") -> list[Path]:
    """``count`` distinct 16-bit stereo WAV files (noise, tones and chirps), written once and reused."""
    import soundfile as sf

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"{prefix}{i:04d}_{seconds:g}s.wav"
        if not path.exists():
            tmp = path.with_suffix(".tmp.wav")
            sf.write(str(tmp), synth_clip(i, seconds, rate, channels), rate, subtype="PCM_16")
            tmp.rename(path)
        paths.append(path)
    return paths


def synth_clip(seed: int, seconds: float, rate: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    freq = rng.uniform(100, 4000)
    tone = np.sin(2 * np.pi * (freq + rng.uniform(-50, 50) * t) * t)
    envelope = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(0.5, 6) * t))
    mono = 0.3 * tone * envelope + rng.uniform(0.01, 0.2) * rng.standard_normal(len(t))
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32) * 0.8


# ---------------------------------------------------------------------------------------------- timing


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# CPU seconds (all threads of this process) per side, from the last ``interleaved`` call: on a shared
# machine they show the work each side does, which bursts of load from other processes barely change.
CPU_TIMES: dict[str, float] = {}
# Fastest round per side: this machine's speed is bimodal under shared load (the same forward pass
# takes 1x or ~4x), so the best round is a second, steadier view of each side's cost.
BEST_TIMES: dict[str, float] = {}


def interleaved(sides: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Run every side ``repeats`` times, alternating, and return median wall seconds and last results.

    Alternating sides within one run means a burst of load from other processes hits both."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in sides.items():
            start_cpu = time.process_time()
            seconds, results[name] = timed(fn)
            cpu[name].append(time.process_time() - start_cpu)
            times[name].append(seconds)
    CPU_TIMES.update({name: statistics.median(values) for name, values in cpu.items()})
    BEST_TIMES.update({name: min(values) for name, values in times.items()})
    return {name: statistics.median(values) for name, values in times.items()}, results


def report_header(title: str, args: argparse.Namespace, extra: str = "", model: str | None = None) -> None:
    import platform

    import torch

    model = model or ("tiny model" if args.tiny else "full-size random CLAP, 153M params")
    print(f"== {title} ({model}) ==")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, load avg {os.getloadavg()[0]:.2f} {extra}".rstrip())


def report_times(times: dict[str, float], per: int, unit: str = "files") -> None:
    for name, seconds in times.items():
        cpu = f"  cpu {CPU_TIMES[name]:8.3f} s" if name in CPU_TIMES else ""
        best = f"  best {BEST_TIMES[name]:8.3f} s" if name in BEST_TIMES else ""
        print(f"time  {name:<30} {seconds:8.3f} s  ({per / seconds:7.2f} {unit}/s){cpu}{best}")


def cpu_ratio(slow: str, fast: str) -> float:
    return CPU_TIMES[slow] / CPU_TIMES[fast]


def best_ratio(slow: str, fast: str) -> float:
    return BEST_TIMES[slow] / BEST_TIMES[fast]


def report_ratio(name: str, value: float, target: str, ok: bool) -> None:
    """One line per measured ratio, parsed by the tests: ``RATIO <name> <value> target <target> PASS|MISS``."""
    shown = f"{value:8.6g}"
    print(f"RATIO {name:<34} {shown}  target {target:<10} {'PASS' if ok else 'MISS'}")
