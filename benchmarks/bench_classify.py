"""Zero-shot classification: clapcli vs a hand-written loop over transformers' pipeline.

40 audio files (10 s, 44.1 kHz stereo WAV on disk) x the 50 ESC-50 labels, same checkpoint.

Baseline (what a user writes by hand)::

    pipe = pipeline("zero-shot-audio-classification", model=DIR)
    for path in paths:
        audio, _ = librosa.load(path, sr=48000)   # the pipeline reads paths with ffmpeg, which
        top1 = pipe(audio, candidate_labels=labels)[0]   # this machine lacks: arrays are what scripts pass

clapcli: ``prepare_labels`` (the labels' text embeddings, once) + ``classify_media`` over the paths,
i.e. what ``clap classify`` runs after loading the model. Model loading is outside the timed region
on both sides (``bench_startup.py`` times whole commands). Alternating rounds, medians.
Targets: clapcli >= 5x the baseline's files/s; the same top-1 label on every file.

Usage: python benchmarks/bench_classify.py [--files 40] [--labels 50] [--repeats 3] [--tiny]
"""

from __future__ import annotations

import numpy as np
from _common import (
    ESC50_LABELS,
    TEMPLATE,
    best_ratio,
    cpu_ratio,
    interleaved,
    model_dir,
    parser,
    report_header,
    report_ratio,
    report_times,
    setup_torch,
    write_clips,
)


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=40)
    p.add_argument("--labels", type=int, default=50, help="how many of the ESC-50 labels")
    args = p.parse_args()
    setup_torch()
    import librosa
    from transformers import pipeline

    from clapcli.core.classify import classify_media, prepare_labels
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    labels = list(ESC50_LABELS[: args.labels])
    pipe = pipeline("zero-shot-audio-classification", model=str(directory), device="cpu")
    model = load_embedding_model(str(directory), device="cpu")

    def baseline() -> list[tuple[str, float]]:
        tops = []
        for path in paths:
            audio, _ = librosa.load(path, sr=48000)
            best = pipe(audio, candidate_labels=labels, hypothesis_template=TEMPLATE)[0]
            tops.append((best["label"], best["score"]))
        return tops

    def clapcli() -> list[tuple[str, float]]:
        label_set = prepare_labels(model, labels, TEMPLATE)
        results = classify_media(model, paths, label_set, top_k=1)
        return [(r.predictions[0].label, r.predictions[0].score) for r in results]

    report_header("classify: clapcli vs transformers pipeline loop", args,
                  f"files={args.files} x {args.seconds:g} s 44.1 kHz stereo, labels={len(labels)}")
    times, results = interleaved({"transformers pipeline loop": baseline, "clapcli classify": clapcli},
                                 args.repeats)
    report_times(times, args.files)
    ref, ours = results["transformers pipeline loop"], results["clapcli classify"]
    same = sum(a[0] == b[0] for a, b in zip(ref, ours))
    score_diff = float(np.max(np.abs([a[1] - b[1] for a, b in zip(ref, ours)])))
    print(f"top-1 identical on {same}/{len(ref)} files; max |top-1 score difference| = {score_diff:.1e}")
    speedup = times["transformers pipeline loop"] / times["clapcli classify"]
    report_ratio("classify_speedup", speedup, ">= 5.0", speedup >= 5.0)
    cpu = cpu_ratio("transformers pipeline loop", "clapcli classify")
    report_ratio("classify_speedup_cpu_time", cpu, "(info)", True)
    best = best_ratio("transformers pipeline loop", "clapcli classify")
    report_ratio("classify_speedup_best_rounds", best, "(info)", True)
    report_ratio("classify_top1_agreement", same / len(ref), "== 1.0", same == len(ref))


if __name__ == "__main__":
    main()
