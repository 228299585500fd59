"""Audio embeddings: clapcli's streaming pipeline vs the model card's per-file loop, and vs the
model's forward time alone.

64 audio files (10 s, 44.1 kHz stereo WAV on disk), same checkpoint, same thread count.

Baseline (the model card's way)::

    for path in paths:
        audio, _ = librosa.load(path, sr=48000)
        inputs = processor(audio=audio, sampling_rate=48000, return_tensors="pt")
        embedding = model.get_audio_features(**inputs).pooler_output

It is timed as the card writes it (no ``torch.no_grad``); ``--inference-mode-baseline`` also times it
inside ``torch.inference_mode()``.

clapcli: ``embed_media`` over the paths (decode + resample + log-mel in a thread pool with bounded
prefetch, overlapping the model; batches of ``default_batch_size`` windows), what ``clap embed``
runs after loading the model.

Forward alone: the audio tower + projection on precomputed features of the same clips, at clapcli's
batch size: the floor for any pipeline on this machine.
Targets: clapcli >= 1.5x the baseline's files/s; clapcli's time <= 1.25x the forward time alone.
``--sweep 1,2,4,8,16`` also times the forward pass per clip at those batch sizes (to pick the default).

Usage: python benchmarks/bench_embed.py [--files 64] [--repeats 3] [--batch-size N] [--sweep 1,4,8] [--tiny]
"""

from __future__ import annotations

import numpy as np
import torch
from _common import (
    best_ratio,
    cpu_ratio,
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


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=64)
    p.add_argument("--batch-size", type=int, default=None, help="clapcli batch size (default: its own default)")
    p.add_argument("--inference-mode-baseline", action="store_true", help="also time the card's loop without autograd")
    p.add_argument("--sweep", default="", help="comma-separated batch sizes for a forward-only sweep")
    args = p.parse_args()
    setup_torch()
    import librosa
    from transformers import ClapModel, ClapProcessor

    from clapcli.core.embed import embed_media
    from clapcli.core.pipeline import default_batch_size
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    processor = ClapProcessor.from_pretrained(directory)
    card_model = ClapModel.from_pretrained(directory).eval()
    model = load_embedding_model(str(directory), device="cpu")
    batch = args.batch_size or default_batch_size(model)

    def card() -> np.ndarray:
        rows = []
        for path in paths:
            audio, _ = librosa.load(path, sr=48000)
            inputs = processor(audio=audio, sampling_rate=48000, return_tensors="pt")
            rows.append(card_model.get_audio_features(**inputs).pooler_output.detach()[0].numpy())
        return np.stack(rows)

    def card_inference_mode() -> np.ndarray:
        with torch.inference_mode():
            return card()

    def clapcli() -> np.ndarray:
        return np.stack([e.vector for e in embed_media(model, paths, batch_size=batch)])

    features, _ = model._features([model.prepare(librosa.load(path, sr=48000)[0][:model.window_samples])
                                   for path in paths])

    @torch.inference_mode()
    def forward_alone() -> None:
        for chunk in features.split(batch):
            model.network.audio_projection(model.network.audio_model(input_features=chunk).pooler_output)

    report_header("embed: clapcli vs the model card's loop vs the forward pass alone", args,
                  f"files={args.files} x {args.seconds:g} s 44.1 kHz stereo, clapcli batch={batch}")
    sides = {"model card loop": card, "clapcli embed": clapcli, "forward alone (same batches)": forward_alone}
    if args.inference_mode_baseline:
        sides["model card + inference_mode"] = card_inference_mode
    times, results = interleaved(sides, args.repeats)
    report_times(times, args.files)
    cosine = np.sum(_unit(results["model card loop"]) * _unit(results["clapcli embed"]), axis=1)
    print(f"cosine(clapcli, model card) min {cosine.min():.6f} (librosa.load returns one extra sample at "
          "44.1->48 kHz, so the card's extractor crops 10 s clips at a random 0/1-sample offset)")
    speedup = times["model card loop"] / times["clapcli embed"]
    report_ratio("embed_speedup_vs_card", speedup, ">= 1.5", speedup >= 1.5)
    if args.inference_mode_baseline:
        report_ratio("embed_speedup_vs_card_inference_mode",
                     times["model card + inference_mode"] / times["clapcli embed"], "(info)", True)
    overhead = times["clapcli embed"] / times["forward alone (same batches)"]
    report_ratio("embed_time_over_forward_alone", overhead, "<= 1.25", overhead <= 1.25)
    report_ratio("embed_speedup_vs_card_cpu_time", cpu_ratio("model card loop", "clapcli embed"), "(info)", True)
    cpu = cpu_ratio("clapcli embed", "forward alone (same batches)")
    report_ratio("embed_cpu_over_forward_cpu", cpu, "(info)", True)
    report_ratio("embed_speedup_vs_card_best_rounds", best_ratio("model card loop", "clapcli embed"), "(info)", True)
    best = best_ratio("clapcli embed", "forward alone (same batches)")
    report_ratio("embed_over_forward_best_rounds", best, "(info)", True)
    if args.sweep:
        sweep(model, features, [int(b) for b in args.sweep.split(",")], args.repeats)


@torch.inference_mode()
def sweep(model, features: torch.Tensor, sizes: list[int], repeats: int) -> None:
    """Forward time per clip at each batch size (alternating sizes, medians)."""
    def run(size: int) -> None:
        for chunk in features.split(size):
            model.network.audio_projection(model.network.audio_model(input_features=chunk).pooler_output)

    timed(lambda: run(sizes[0]))  # warm-up
    times, _ = interleaved({f"batch {size}": (lambda s=size: run(s)) for size in sizes}, repeats)
    for name, seconds in times.items():
        print(f"sweep {name:<10} {1000 * seconds / len(features):8.1f} ms per clip (forward only)")


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


if __name__ == "__main__":
    main()
