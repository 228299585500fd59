"""``clap embed --engine ray`` on a local Ray vs the local engine: files/s on the same files and checkpoint.

Sides (each a whole job, as a user runs it):
  local          load the model, ``embed_media`` (thread-pool decode, 2 torch threads), write one Parquet file
  ray x1 / x2    ``embed_with_ray`` with 1 or 2 model actors: driver probe of the model, read + decode tasks,
                 actors (each loads the model; 1 torch thread per actor on CPU), Parquet shards

Ray starts once before the sides (its start-up is printed, not counted); actors are new per job, so
their process start and model load are counted, as they are in a real run. Each side's embeddings are
checked against the local engine's (max |difference|).
On one 2-core machine Ray can only add overhead; the engine is for many machines. The figures show
that overhead, and how close x2 gets to the local engine on the same cores.

Usage: python benchmarks/bench_ray.py [--files 32] [--seconds 10] [--tiny]
"""

from __future__ import annotations

import logging
import shutil
import time

import numpy as np
from _common import model_dir, parser, report_header, report_times, setup_torch, timed, write_clips


def run_local(model_path: str, clips: list, out) -> dict[str, np.ndarray]:
    from clapcli.core.embed import embed_media
    from clapcli.io.writers import embedding_writer
    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(model_path, "cpu")
    writer = embedding_writer("parquet", out, overwrite=True)
    rows = {}
    for row in embed_media(model, clips):
        writer.write(row)
        rows[row.source] = row.vector
    writer.close()
    return rows


def run_ray(model_path: str, clips: list, out, concurrency: int) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    from clapcli.core.ray_engine import ModelSpec, RayOptions, embed_with_ray

    summary = embed_with_ray([str(c.parent) for c in clips[:1]], str(out), ModelSpec(model_path, device="cpu"),
                             RayOptions(concurrency=concurrency), overwrite=True)
    assert summary.written == len(clips) and summary.failed == 0, summary
    table = pq.read_table(out).to_pylist()
    return {row["path"]: np.asarray(row["embedding"], np.float32) for row in table}


def main() -> None:
    args = parser(__doc__, files=32).parse_args()
    setup_torch()
    model_path = str(model_dir(args.work, args.tiny))
    folder = args.work / "audio" / f"ray-{args.files}x{args.seconds:g}s"
    clips = write_clips(folder, args.files, args.seconds)
    for stray in folder.iterdir():  # the Ray job reads the whole directory
        if stray not in clips:
            stray.unlink()
    out = args.work / "ray-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    import ray

    started, _ = timed(lambda: ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
                                        log_to_driver=False))
    report_header("clap embed: Ray engine (local Ray, 2 CPUs) vs local engine", args,
                  f"files={args.files} x {args.seconds:g}s, repeats=1")
    print(f"ray.init (not counted): {started:.1f} s")
    times: dict[str, float] = {}
    seconds, reference = timed(lambda: run_local(model_path, clips, out / "local.parquet"))
    times["local engine"] = seconds
    for concurrency in (1, 2):
        time.sleep(1)
        seconds, rows = timed(lambda c=concurrency: run_ray(model_path, clips, out / f"ray{c}", c))
        times[f"ray engine, {concurrency} actor(s)"] = seconds
        worst = max(float(np.abs(rows[str(p)] - reference[str(p)]).max()) for p in clips)
        print(f"ray x{concurrency}: max |embedding - local| = {worst:.2e}")
    report_times(times, args.files)
    ray.shutdown()


if __name__ == "__main__":
    main()
