"""Acceptance check for ``clap train`` probes (issue 28), kept apart from the tests.

Synthetic tonal classes (each class a fundamental with two harmonics, per-clip pitch jitter, level and
noise), embedded by a random-weight CLAP (full-size, or tiny with --tiny): zero-shot is at chance, since
random towers know nothing of the prompts. Half the clips of each class train, the other half test.
Printed side by side on the same embeddings: chance, zero-shot, scikit-learn's LogisticRegression
(defaults), and the probe (``fit_probe``: CV strength, zero-shot blend). Passes when the probe's held-out
accuracy is >= scikit-learn's and well above chance (> 2x chance); exit 1 otherwise.

Usage: python benchmarks/accept_probe.py [--classes 8] [--per-class 24] [--tiny]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _common import DEFAULT_WORK, model_dir, setup_torch

RATE = 48000


def tonal_clip(kind: int, seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng([kind, seed])
    t = np.arange(int(seconds * RATE)) / RATE
    base = 110.0 * 2 ** (kind / 2) * (1 + rng.uniform(-0.02, 0.02))
    wave = sum(a * np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3)) for h, a in ((1, 1.0), (2, 0.5), (3, 0.25)))
    return (rng.uniform(0.2, 0.5) * wave / 1.75 + rng.normal(0, 0.03, len(t))).astype(np.float32)


def write_dataset(root: Path, classes: int, per_class: int, seconds: float) -> tuple[list[Path], np.ndarray]:
    import soundfile

    paths, labels = [], []
    for kind in range(classes):
        for take in range(per_class):
            path = root / f"class_{kind}" / f"{take}.wav"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(path, tonal_clip(kind, take, seconds), RATE)
            paths.append(path)
            labels.append(kind)
    return paths, np.array(labels)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--per-class", type=int, default=24)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = p.parse_args()
    setup_torch()
    from sklearn.linear_model import LogisticRegression

    from clapcli.core.eval.embedding import embed_paths
    from clapcli.core.probe.fit import fit_probe
    from clapcli.core.probe.model import Probe
    from clapcli.core.probe.train import prototypes
    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(str(model_dir(args.work, args.tiny)), device="cpu")
    paths, labels = write_dataset(args.work / "probe-tones", args.classes, args.per_class, args.seconds)
    embedded = embed_paths(model, paths)
    X, y = embedded.matrix, labels[embedded.ok]
    train = np.zeros(len(y), bool)
    for kind in range(args.classes):
        train[np.flatnonzero(y == kind)[::2]] = True
    names = [f"class_{k}" for k in range(args.classes)]
    text, _, _ = prototypes(model, names, None)
    fitted = fit_probe(X[train], y[train], names, text, model.logit_scale)
    probe = float((Probe(names, fitted.weights, fitted.bias).predict(X[~train]) == y[~train]).mean())
    baseline = LogisticRegression(max_iter=1000).fit(X[train], y[train])
    reference = float((baseline.predict(X[~train]) == y[~train]).mean())
    zero_shot = float((np.argmax(X[~train] @ text.T, axis=1) == y[~train]).mean())
    chance = 1 / args.classes
    print(f"model {'tiny' if args.tiny else 'full-size'} random CLAP; {args.classes} tonal classes, "
          f"{int(train.sum())} train / {int((~train).sum())} test clips")
    print(f"held-out accuracy: chance {chance:.3f}  zero-shot {zero_shot:.3f}  scikit-learn LR {reference:.3f}  "
          f"probe {probe:.3f} (C {fitted.C:g}, zero-shot weight {fitted.blend:g})")
    print(f"probe_vs_sklearn_ratio{'_tiny' if args.tiny else ''}: {probe / max(reference, 1e-9):.3f}")
    ok = probe >= reference and probe > 2 * chance
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
