"""``clap train`` cost next to embedding, and ``classify --probe`` throughput next to plain classify.

1. Embed ``--files`` clips (10 s, 44.1 kHz stereo WAV on disk) and time it; the time to embed 2,000
   clips is that rate times 2,000 (extrapolated: embedding 2,000 full-size clips takes 4-25 minutes on
   a shared 2-core machine). Then fit probes on 2,000 embeddings (the measured ones repeated with a 1%
   jitter), with the full cross-validation ``clap train`` runs, twice: 8 classes that follow the clip
   (separable) and 50 classes round-robin (the ESC-50 shape; labels unrelated to the sound, the slow
   case for the solver). The first fit includes importing scikit-learn, as ``clap train`` pays it.
   Target: the slower fit <= 5% of embedding.
2. ``classify_with_probe`` vs ``classify_media`` (50 ESC-50 labels) on the same clips, alternating rounds,
   medians; the label prompts are encoded outside the timed region for both. Target: within 5%.

Usage: python benchmarks/bench_probe.py [--files 16] [--repeats 3] [--tiny]
"""

from __future__ import annotations

import numpy as np
from _common import (
    ESC50_LABELS,
    interleaved,
    model_dir,
    parser,
    report_header,
    report_ratio,
    report_times,
    setup_torch,
    timed,
    write_clips,
)

TRAIN_CLIPS = 2000


def main() -> None:
    args = parser(__doc__.splitlines()[0], files=16).parse_args()
    setup_torch()
    from clapcli.core.classify import classify_media, prepare_labels
    from clapcli.core.eval.embedding import embed_paths
    from clapcli.core.probe.fit import fit_probe
    from clapcli.core.probe.model import Probe
    from clapcli.core.probe.train import prototypes
    from clapcli.models.loading import load_embedding_model

    report_header("clap train and classify --probe", args)
    model = load_embedding_model(str(model_dir(args.work, args.tiny)), device="cpu")
    paths = write_clips(args.work / "probe-clips", args.files, args.seconds)
    embed_seconds, embedded = timed(lambda: embed_paths(model, paths))
    names = [label.replace(" ", "_") for label in ESC50_LABELS]
    rng = np.random.default_rng(0)
    rows = embedded.matrix[np.arange(TRAIN_CLIPS) % len(paths)]
    X = rows + 0.01 * rng.normal(size=rows.shape).astype(np.float32)
    per_clip = embed_seconds / len(paths)
    print(f"time  embed {len(paths)} clips {embed_seconds:8.3f} s = {per_clip:.3f} s per clip -> {TRAIN_CLIPS} "
          f"clips ~ {per_clip * TRAIN_CLIPS:8.1f} s (extrapolated)")
    slowest = 0.0
    for count, kind in ((8, "follow the clip"), (len(names), "unrelated to the sound")):
        y = np.arange(TRAIN_CLIPS) % count
        text, _, _ = prototypes(model, names[:count], None)
        train_seconds, fitted = timed(lambda y=y, text=text, count=count: fit_probe(X, y, names[:count], text,
                                                                                   model.logit_scale))
        slowest = max(slowest, train_seconds)
        print(f"time  fit a probe on {TRAIN_CLIPS} embeddings, {count} classes ({kind}) {train_seconds:8.3f} s "
              f"({fitted.folds}-fold CV: C {fitted.C:g}, blend {fitted.blend:g}, accuracy {fitted.cv_score:.3f})")
    share = slowest / (per_clip * TRAIN_CLIPS)
    report_ratio("probe_train_over_embed_2000", share, "<= 0.05", share <= 0.05)

    label_set = prepare_labels(model, list(ESC50_LABELS))
    probe = Probe(names, fitted.weights, fitted.bias, False, {"model": {"id": model.model_id}})
    sides = {
        "classify (zero-shot)": lambda: list(classify_media(model, paths, label_set, 5)),
        "classify --probe": lambda: list(classify_with_probe(model, paths, probe, 5)),
    }
    from clapcli.core.probe.classify import classify_with_probe

    times, _ = interleaved(sides, args.repeats)
    report_times(times, len(paths))
    ratio = times["classify --probe"] / times["classify (zero-shot)"]
    report_ratio("probe_classify_time_ratio", ratio, "<= 1.05", ratio <= 1.05)


if __name__ == "__main__":
    main()
