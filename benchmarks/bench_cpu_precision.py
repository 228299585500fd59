"""CPU precision options: float32 vs ``--dtype bfloat16`` vs ``--quantize int8`` (dynamic int8
linear layers), through clapcli's own embed path on the same audio files.

Reports, for audio (``embed_media`` over the files) and for text (the 50 ESC-50 prompts), each
option's speed-up over float32 and the cosine similarity of its embeddings to float32's.
Target: cosine >= 0.99 (min over files); the speed-ups are reported as measured.

Usage: python benchmarks/bench_cpu_precision.py [--files 16] [--repeats 3] [--tiny]
"""

from __future__ import annotations

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

OPTIONS = {"float32": ("float32", None), "bfloat16": ("bfloat16", None), "int8": ("float32", "int8")}


def main() -> None:
    args = parser(__doc__.splitlines()[0], files=16).parse_args()
    setup_torch()
    from clapcli.core.embed import embed_media
    from clapcli.core.text import encode_texts
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    prompts = [TEMPLATE.format(label) for label in ESC50_LABELS]
    models = {name: load_embedding_model(str(directory), device="cpu", dtype=dtype, quantize=quantize)
              for name, (dtype, quantize) in OPTIONS.items()}

    def audio_side(name: str):
        return lambda: np.stack([e.vector for e in embed_media(models[name], paths)])

    def text_side(name: str):
        return lambda: encode_texts(models[name], prompts)

    for name in models:  # warm-up: first calls pay one-time kernel setup (oneDNN bf16, int8 packing)
        embed_media(models[name], paths[:1]).__next__()
    report_header("cpu-precision: float32 vs bfloat16 vs int8", args,
                  f"files={args.files} x {args.seconds:g} s, texts={len(prompts)}")
    audio_times, audio = interleaved({f"audio {name}": audio_side(name) for name in models}, args.repeats)
    text_times, text = interleaved({f"text {name}": text_side(name) for name in models}, args.repeats)
    report_times(audio_times, args.files)
    report_times(text_times, len(prompts), "texts")
    for kind, times, vectors in (("audio", audio_times, audio), ("text", text_times, text)):
        reference = vectors[f"{kind} float32"]
        for name in ("bfloat16", "int8"):
            cosine = np.sum(reference * vectors[f"{kind} {name}"], axis=1)  # both L2-normalized
            speedup = times[f"{kind} float32"] / times[f"{kind} {name}"]
            report_ratio(f"{kind}_{name}_speedup", speedup, "(info)", True)
            report_ratio(f"{kind}_{name}_min_cosine", float(cosine.min()), ">= 0.99", cosine.min() >= 0.99)


if __name__ == "__main__":
    main()
