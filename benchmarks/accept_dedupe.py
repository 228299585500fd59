"""Acceptance check of ``clap dedupe`` (kept apart from the tests): a library of distinct sounds plus
lossless and re-quantised copies of some; dedupe must group every copy with its source, never group two
distinct sources, and change nothing on disk.

The sounds are synthetic melodies (Chromaprint tells them apart; a plain tone would not), several of the
same length, so that duration alone cannot separate them. Copies: FLAC 24-bit, WAV 8-bit, OGG Vorbis, MP3
(libsndfile), 16 kHz resampled, half gain, trimmed by 0.2 s. It also prints the cosine similarities of
copies with their source and of distinct sounds with each other, for the model it runs: with random
weights (no hub here) distinct sounds come out as alike as copies (docs/library-tools.md), so on this machine
the confirmations (duration, fingerprint) do the separating, which is what this check exercises.

Usage: python benchmarks/accept_dedupe.py [--tiny] [--sources 12] [--work DIR] [--model DIR]
Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

RATE = 22050
COPIES = {  # name -> (extension, subtype, how the samples change)
    "lossless": ("flac", "PCM_24", None),
    "8bit": ("wav", "PCM_U8", None),
    "ogg": ("ogg", None, None),
    "mp3": ("mp3", None, None),
    "16k": ("wav", "PCM_16", "resample"),
    "gain": ("wav", "PCM_16", "gain"),
    "trim": ("wav", "PCM_16", "trim"),
}


def melody(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    note = np.arange(int(RATE * 0.25)) / RATE
    parts = [(0.3 * np.sin(2 * np.pi * f * note) + 0.1 * np.sin(4 * np.pi * f * note)) * np.hanning(len(note))
             for f in 110 * 2 ** (rng.integers(0, 36, int(seconds * 4)) / 12)]
    return np.concatenate(parts).astype(np.float32)


def build(root: Path, sources: int) -> dict[str, str]:
    """Write the library; returns file (relative) -> the source it is a copy of (itself for a source)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    truth = {}
    kinds = list(COPIES)
    for number in range(sources):
        seconds = (6.0, 6.0, 8.0)[number % 3]  # two of every three share a length
        samples = melody(100 + number, seconds)
        source = f"sources/s{number:02d}.wav"
        (root / "sources").mkdir(parents=True, exist_ok=True)
        sf.write(str(root / source), samples, RATE, subtype="PCM_16")
        truth[source] = source
        if number % 2:  # half the sources have copies
            continue
        for kind in (kinds[number % len(kinds)], kinds[(number + 3) % len(kinds)]):
            extension, subtype, change = COPIES[kind]
            data, rate = samples, RATE
            if change == "resample":
                data, rate = resample_poly(samples, 16000, RATE).astype(np.float32), 16000
            elif change == "gain":
                data = samples * 0.5
            elif change == "trim":
                data = samples[int(0.2 * RATE):]
            name = f"copies/{kind}/s{number:02d}.{extension}"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(root / name), data, rate, subtype=subtype)
            truth[name] = source
    return truth


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def clap(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "clapcli", *args], capture_output=True, text=True, env=env)


def similarities(db: Path, root: Path, truth: dict[str, str]) -> None:
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:
        collection = store.collection("default", create=False)
        stored = collection.load_matrix(cache=False)
        paths = collection.paths(stored.ids.tolist())
    row = {str(Path(paths[i]).relative_to(root)): n for n, i in enumerate(stored.ids.tolist())}
    vectors = stored.vectors
    copies = [float(vectors[row[f]] @ vectors[row[s]]) for f, s in truth.items() if f != s]
    sources = [s for s in truth if truth[s] == s]
    distinct = [float(vectors[row[a]] @ vectors[row[b]]) for a, b in itertools.combinations(sources, 2)]
    print(f"cosine copy-source:     min {min(copies):.6f}  median {np.median(copies):.6f}  max {max(copies):.6f}")
    print(f"cosine distinct pairs:  min {min(distinct):.6f}  median {np.median(distinct):.6f}  "
          f"max {max(distinct):.6f}")


def main() -> int:
    p = argparse.ArgumentParser(description="acceptance check of clap dedupe")
    p.add_argument("--tiny", action="store_true", help="tiny random model (else the full-size random CLAP)")
    p.add_argument("--sources", type=int, default=12)
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--model", type=Path, default=None, help="a model directory (default: built under --work)")
    args = p.parse_args()
    from _common import DEFAULT_WORK, model_dir

    model = args.model or model_dir(args.work or DEFAULT_WORK, args.tiny)
    with tempfile.TemporaryDirectory(prefix="accept-dedupe-") as scratch:
        root = Path(scratch) / "library"
        truth = build(root, args.sources)
        db = root / "lib.db"
        embedded = clap("embed", str(root / "sources"), str(root / "copies"), "--db", str(db), "--model", str(model),
                        "-q")
        if embedded.returncode != 0:
            print(embedded.stderr)
            return 1
        before = tree(root)
        # Random weights put every file among every other's nearest (distinct sounds at cosine ~0.998),
        # so a copy may rank below ten strangers: examine every neighbour. Real weights rank copies first.
        result = clap("dedupe", "--db", str(db), "--format", "json", "--neighbours", str(len(truth)))
        after = tree(root)
        if result.returncode != 0:
            print(result.stderr)
            return 1
        print(result.stderr.strip())
        similarities(db, root, truth)
        rows = json.loads(result.stdout)
        return check(rows, root, truth, before == after)


def check(rows: list[dict], root: Path, truth: dict[str, str], untouched: bool) -> int:
    groups: dict[int, set[str]] = {}
    for row in rows:
        groups.setdefault(row["group"], set()).add(str(Path(row["path"]).relative_to(root)))
    expected = {}
    for name, source in truth.items():
        expected.setdefault(source, set()).add(name)
    wanted = sorted(sorted(g) for g in expected.values() if len(g) > 1)
    found = sorted(sorted(g) for g in groups.values())
    mixed = [g for g in found if len({truth[f] for f in g}) > 1]
    missed = [g for g in wanted if not any(set(g) <= set(f) for f in found)]
    print(f"files {len(truth)}, sources {len(expected)}, groups expected {len(wanted)}, found {len(found)}")
    for name, ok in (("every copy grouped with its source", not missed), ("no group holds two sources", not mixed),
                     ("groups exactly as expected", found == wanted), ("nothing on disk changed", untouched)):
        print(f"CHECK {name:<40} {'PASS' if ok else 'FAIL'}")
    for group in missed + mixed:
        print(f"  wrong: {group}")
    return 0 if (not missed and not mixed and untouched) else 1


if __name__ == "__main__":
    sys.exit(main())
