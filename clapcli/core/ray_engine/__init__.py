"""``clap embed --engine ray``: embed file collections on a Ray cluster (or a local Ray) with Ray Data.

Stages, all streaming, one module each:
  ``job``     lists local inputs on the driver (absolute paths, since workers run elsewhere; a missing or
              unreadable file is one failure row, not a failed job), starts or joins Ray, and builds the
              Data pipeline: ``read_binary_files`` (local paths, s3:// gs:// ... through pyarrow
              filesystems) -> decode tasks -> model actors -> shard sink
  ``decode``  decode tasks on CPU workers: bytes -> mono float32 at the model's rate, with
              ``clapcli.audio.decode`` itself (the local engine's decoder, fed bytes)
  ``actor``   a pool of model actors, one model load each (the local engine's ``embed_media``, so the
              numbers equal the local engine's)
  ``sink``    one datasink writing Parquet shards with the local ``embed`` columns (``clapcli.io.arrow``)
              to DIR and failed inputs (path, error) to ``DIR/_errors/``, in a single pass over the data.
``_errors`` starts with an underscore so parquet readers of DIR (pyarrow, pandas, Spark) skip it.
Importing this package needs no Ray; the package is not named ``ray`` so it never shadows the library.
"""

from __future__ import annotations

from clapcli.core.ray_engine.actor import EmbedActor, ModelSpec
from clapcli.core.ray_engine.decode import decode_batch, uri_scheme, with_scheme
from clapcli.core.ray_engine.job import (
    RayOptions,
    RayRunSummary,
    embed_with_ray,
    fit_to_cluster,
    list_local_inputs,
    require_ray,
)
from clapcli.core.ray_engine.sink import ShardSink, prepare_output, write_failures

__all__ = [
    "EmbedActor", "ModelSpec", "RayOptions", "RayRunSummary", "ShardSink", "decode_batch", "embed_with_ray",
    "fit_to_cluster", "list_local_inputs", "prepare_output", "require_ray", "uri_scheme", "with_scheme",
    "write_failures",
]
