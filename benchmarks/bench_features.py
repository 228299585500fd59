"""Log-mel features: clapcli's ``log_mel`` vs transformers' ``ClapFeatureExtractor`` on the same clips.

Both start from 10 s float32 clips at 48 kHz (the model's rate) and produce the (frames, 64) dB
log-mel of every clip. Measured in one run, alternating sides; medians reported.
  * ``log_mel`` on the whole batch, one thread (the op itself, same thread count as the extractor);
  * ``log_mel`` one clip per task on a 2-thread pool (how clapcli's decode threads run it).
Target: >= 3x faster, max difference <= 1e-4 dB.

Usage: python benchmarks/bench_features.py [--files 32] [--repeats 3] [--tiny]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _common import cpu_ratio, interleaved, model_dir, parser, report_header, report_ratio, report_times, setup_torch


def clips(count: int, seconds: float, rate: int) -> np.ndarray:
    """Noise, tones and silence (the cases where float32 FFTs drift)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    out = np.empty((count, len(t)), dtype=np.float32)
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out[i] = 0.1 * rng.standard_normal(len(t))
        elif kind == 1:
            out[i] = 0.5 * np.sin(2 * np.pi * rng.uniform(60, 12000) * t)
        elif kind == 2:
            out[i] = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t))
        else:
            out[i] = 0.0 if i == 3 else 0.05 * rng.standard_normal(len(t)) * np.sin(2 * np.pi * 2 * t)
    return out


def main() -> None:
    args = parser(__doc__.splitlines()[0], files=32).parse_args()
    setup_torch()
    from transformers import ClapFeatureExtractor

    from clapcli.audio.features import log_mel
    from clapcli.audio.windows import repeat_pad
    from clapcli.models.laion import mel_spec_for

    extractor = ClapFeatureExtractor.from_pretrained(model_dir(args.work, args.tiny))
    spec = mel_spec_for(extractor)
    audio = clips(args.files, args.seconds, spec.sample_rate)
    batch = list(audio)

    def reference() -> np.ndarray:
        return extractor(batch, sampling_rate=spec.sample_rate, return_tensors="np")["input_features"][:, 0]

    window = int(extractor.nb_max_samples)  # clips shorter than the window are repeat-padded, as the extractor does

    def ours() -> np.ndarray:
        return log_mel(np.stack([repeat_pad(clip, window) for clip in audio]), spec).numpy()

    pool = ThreadPoolExecutor(2)  # what clapcli's decode threads do

    def ours_threads() -> np.ndarray:
        return np.stack(list(pool.map(lambda clip: log_mel(repeat_pad(clip, window), spec).numpy()[0], batch)))

    ours_threads(), reference()  # warm-up: imports, caches, thread start
    report_header("features: log_mel vs ClapFeatureExtractor", args, f"clips={args.files} x {args.seconds:g} s")
    times, results = interleaved(
        {"ClapFeatureExtractor": reference, "clapcli log_mel (1 thread)": ours,
         "clapcli log_mel (2 threads)": ours_threads},
        args.repeats,
    )
    pool.shutdown()
    report_times(times, args.files, "clips")
    ref = results["ClapFeatureExtractor"]
    diff = max(float(np.abs(results[name] - ref).max()) for name in results)
    print(f"max |difference| = {diff:.2e} dB over {args.files} clips (noise, tones, silence)")
    base = times["ClapFeatureExtractor"]
    report_ratio("features_speedup_1thread", base / times["clapcli log_mel (1 thread)"], ">= 3.0",
                 base / times["clapcli log_mel (1 thread)"] >= 3.0)
    report_ratio("features_speedup_2threads", base / times["clapcli log_mel (2 threads)"], "(info)", True)
    report_ratio("features_speedup_cpu_time", cpu_ratio("ClapFeatureExtractor", "clapcli log_mel (1 thread)"),
                 "(info)", True)
    report_ratio("features_max_diff_db", diff, "<= 1e-4", diff <= 1e-4)


if __name__ == "__main__":
    main()
