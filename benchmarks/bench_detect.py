"""clap detect: peak memory flat in the file's length, and throughput against clap embed (issue 16).

1. Peak RSS of ``clap detect`` (fresh processes, ``os.wait4``'s ``ru_maxrss``) on one 3-hour vs one
   10-minute 44.1 kHz stereo WAV, hop = half the window (the default). The file is read in blocks
   and only the (windows x labels) scores are kept, so the peak should not grow with the length.
   Target: peak(long) within 1.2x of peak(short).
2. Time of detection with hop equal to the window over an hour of audio vs ``clap embed`` of the same
   file (mean of its consecutive windows: the same number of model windows), in this process with the
   same loaded model, sides interleaved. Target: at most 1.1x.

Usage: python benchmarks/bench_detect.py [--tiny] [--minutes 60] [--short-minutes 10] [--long-minutes 180]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

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
)
from bench_long_audio import check_disk, peak_rss_mb, write_long_wav

LABELS = ESC50_LABELS[:10]


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=1)
    p.add_argument("--minutes", type=float, default=60.0, help="length of the throughput file")
    p.add_argument("--short-minutes", type=float, default=10.0, help="memory: the short file")
    p.add_argument("--long-minutes", type=float, default=180.0, help="memory: the long file")
    p.add_argument("--tmp", type=Path, default=None, help="where the WAVs are written (default: system temp)")
    args = p.parse_args()
    setup_torch()
    directory = model_dir(args.work, tiny=args.tiny)
    report_header("clap detect: memory vs file length, time vs clap embed", args,
                  f"files: {args.short_minutes:g}/{args.long_minutes:g} min (memory), {args.minutes:g} min (time)")
    with tempfile.TemporaryDirectory(prefix="clapcli-detect-", dir=args.tmp) as tmp:
        folder = Path(tmp)
        check_disk(folder, args.short_minutes + args.long_minutes + args.minutes)
        throughput(folder, directory, args)
        memory(folder, directory, args)


def throughput(folder: Path, directory: Path, args) -> None:  # noqa: ANN001
    from clapcli.core.detect import PostProcessing, WindowSpec, detect_events, prepare_scorer, score_files
    from clapcli.core.embed import embed_media
    from clapcli.models.loading import load_embedding_model

    path = write_long_wav(folder / "hour.wav", args.minutes, seed=2)
    model = load_embedding_model(str(directory), device="cpu")
    scorer = prepare_scorer(model, LABELS)
    window = float(model.window_seconds)

    def embed() -> object:
        return list(embed_media(model, [path]))

    def detect() -> object:
        frames = list(score_files(model, [path], scorer, WindowSpec(window, window)))
        return [detect_events(f, PostProcessing(0.5)) for f in frames]

    embed()  # warm-up (first forward passes, page cache)
    times, results = interleaved({"embed (mean of windows)": embed, "detect (hop = window)": detect},
                                 args.repeats)
    windows = len(list(score_files(model, [path], scorer, WindowSpec(window, window)))[0].starts)
    print(f"{args.minutes:g} min of audio, {windows} windows of {window:g} s, {len(LABELS)} labels")
    report_times(times, windows, "windows")
    ratio = times["detect (hop = window)"] / times["embed (mean of windows)"]
    report_ratio("detect_time_over_embed", ratio, "<= 1.10", ratio <= 1.10)


def memory(folder: Path, directory: Path, args) -> None:  # noqa: ANN001
    peaks = {}
    for label, minutes in (("short", args.short_minutes), ("long", args.long_minutes)):
        seconds, path = timed(lambda m=minutes, lb=label: write_long_wav(folder / f"{lb}.wav", m))
        print(f"wrote {path.name}: {minutes:g} min, {path.stat().st_size / 1e9:.2f} GB ({seconds:.1f} s)")
        command = [sys.executable, "-m", "clapcli", "detect", str(path), "-m", str(directory), "--device", "cpu",
                   "--labels", ",".join(LABELS), "--frames", str(folder / f"{label}.parquet"),
                   "--output", str(folder / f"{label}.csv"), "--quiet", "--overwrite"]
        peaks[label], wall = peak_rss_mb(command)
        print(f"peak RSS  {label:<5} {peaks[label]:8.1f} MB  ({wall:.1f} s)")
        path.unlink()
    ratio = peaks["long"] / peaks["short"]
    report_ratio("detect_peak_ratio", ratio, "<= 1.20", ratio <= 1.20)


if __name__ == "__main__":
    main()
