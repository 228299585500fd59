"""``clap eval classify`` vs ``clap embed`` of the same clips plus the label encoding.

40 audio files (10 s, 44.1 kHz stereo WAV on disk) laid out as ESC-50 (``meta/esc50.csv``, 5 folds,
the 50 ESC-50 categories round-robin), same checkpoint, model loaded outside the timed region.

Baseline: what ``clap embed`` runs (``encode_stream`` over the paths, vectors normalized) plus the 50
label prompts through ``encode_texts``, i.e. the least any evaluation must compute.
clapcli eval: everything ``clap eval classify --report`` does after loading the model: read and check the
metadata, embed, score, every figure (top-1/5, macro-F1, per-class, confusion, 1000 bootstrap resamples,
per fold) and the JSON report with per-item predictions, written to a file.
Target: eval time <= 1.1x the baseline. Alternating rounds, medians.

Usage: python benchmarks/bench_eval.py [--files 40] [--repeats 3] [--tiny]
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

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


def esc50_layout(root: Path, paths: list[Path]) -> list[Path]:
    """An ESC-50 folder (rebuilt) whose audio/ links to ``paths``; returns the links in metadata order."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir(exist_ok=True)
    rows, links = [], []
    for index, path in enumerate(paths):
        target = index % len(ESC50_LABELS)
        name = f"{index % 5 + 1}-{index}-A-{target}.wav"
        link = root / "audio" / name
        link.symlink_to(path.resolve())
        links.append(link)
        rows.append([name, index % 5 + 1, target, ESC50_LABELS[target].replace(" ", "_"), "False", index, "A"])
    with open(root / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return links


def main() -> None:
    args = parser(__doc__.splitlines()[0], files=40).parse_args()
    setup_torch()
    from clapcli.core.eval import report as rep
    from clapcli.core.eval.classify import display_labels, evaluate_classification
    from clapcli.core.eval.datasets import label_text, read_classification
    from clapcli.core.pipeline import encode_stream
    from clapcli.core.text import encode_texts, l2_normalize
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    root = args.work / "eval-esc50"
    links = esc50_layout(root, paths)
    model = load_embedding_model(str(directory), device="cpu")
    classes = read_classification(root).classes  # the labels eval encodes: the classes present
    prompts = [TEMPLATE.replace("{}", label_text(name)) for name in classes]

    def embed_and_labels() -> np.ndarray:
        vectors = [e.vector for e in encode_stream(links, model)]
        encode_texts(model, prompts)
        return l2_normalize(np.stack(vectors))

    def evaluate() -> float:
        data = read_classification(root)
        result = evaluate_classification(model, data, display_labels(data, None), TEMPLATE)
        rep.classify_rows(result, data)
        target = args.work / "eval-report.json"
        rep.write_json_report(target, rep.classify_report([(model, result, "bench")], data, 1000, []), True)
        return result.overall.top1

    embed_and_labels(), evaluate()  # warm-up (first-call allocations, lazy imports), untimed
    report_header("eval classify vs embed + label encoding", args,
                  f"files={args.files} x {args.seconds:g} s 44.1 kHz stereo, labels={len(classes)}")
    times, results = interleaved({"clap embed + labels": embed_and_labels, "clap eval classify": evaluate},
                                 args.repeats)
    report_times(times, args.files)
    print(f"top-1 of the random model: {results['clap eval classify']:.3f} (chance {1 / len(classes):.3f})")
    ratio = times["clap eval classify"] / times["clap embed + labels"]
    report_ratio("eval_time_over_embed", ratio, "<= 1.1", ratio <= 1.1)
    report_ratio("eval_time_over_embed_cpu_time", 1 / cpu_ratio("clap embed + labels", "clap eval classify"),
                 "(info)", True)
    report_ratio("eval_time_over_embed_best_rounds", 1 / best_ratio("clap embed + labels", "clap eval classify"),
                 "(info)", True)


if __name__ == "__main__":
    main()
