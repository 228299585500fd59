"""``clap embed --engine ray``: embed file collections on a Ray cluster (or a local Ray) with Ray Data.

Stages, all streaming:
  ``read_binary_files`` (Ray lists and reads s3:// gs:// ... URIs through pyarrow filesystems; local
  inputs are listed on the driver, as absolute paths since workers run elsewhere, so a missing or
  unreadable file is one failure row, not a failed job)
  -> decode tasks on CPU workers (bytes -> mono float32 at the model's rate, with clapcli's own decoder)
  -> a pool of model actors, one model load each (clapcli's ``prepare``/``encode_prepared``/normalize, so
     the numbers equal the local engine's)
  -> one datasink writing Parquet shards with the local ``embed`` columns to DIR and failed inputs
     (path, error) to ``DIR/_errors/``, in a single pass over the data.
``_errors`` starts with an underscore so parquet readers of DIR (pyarrow, pandas, Spark) skip it.
"""

from __future__ import annotations

import inspect
import io
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.core.shards import ERRORS_DIR, SHARD_PREFIX, filesystem_for, is_uri, read_failures, shard_files
from clapcli.errors import ClapcliError, InputError, OutputError, UsageError, missing_extra
from clapcli.results import FailedInput

DECODE_ROWS = 8  # files per decode task call: small, decoded audio is big (~2 MB per 10 s clip)
# Files per actor call (the actor then batches them by model windows like the local engine). Ray hands an
# actor one call's worth at a time, so small calls spread a few hundred files over all actors; GPU actors
# take more per call to fill their larger batches.
EMBED_ROWS_CPU = 8
EMBED_ROWS_GPU = 64


@dataclass(frozen=True)
class ModelSpec:
    """What each actor loads: the same arguments as the local engine's model loading."""

    name: str | None
    device: str = "auto"
    dtype: str = "auto"
    quantize: str | None = None
    long_audio: str | None = None
    normalize: bool = True
    batch_size: int | None = None


@dataclass(frozen=True)
class RayOptions:
    concurrency: int = 1  # model actors
    num_gpus: float = 0.0  # per actor
    num_cpus: float = 1.0  # per actor (also its torch threads when on CPU)
    decode_cpus: float = 0.5  # per decode task: decode overlaps with the actors on small machines
    progress: bool = False


@dataclass
class RayRunSummary:
    output: str
    written: int = 0
    failed: int = 0
    failures: list[FailedInput] = field(default_factory=list)  # the first ones, to name on stderr


def require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise missing_extra("ray", "ray") from None
    return ray


def list_local_inputs(inputs: list[str]) -> tuple[list[str], list[FailedInput]]:
    """Local inputs listed on the driver as the local engine lists them, as absolute file paths
    (Ray workers run in other directories and machines).

    Ray's own listing skips dangling links silently and fails the whole job on a missing or
    unreadable file; here those become failure rows and Ray gets only files it can read."""
    from clapcli.audio.decode import missing_reason
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import AUDIO_EXTENSIONS

    files: list[str] = []
    failures: list[FailedInput] = []
    for entry in expand_inputs(inputs, AUDIO_EXTENSIONS):
        if isinstance(entry, FailedInput):
            failures.append(FailedInput(_absolute(entry.source), entry.reason))
        elif not entry.exists():
            failures.append(FailedInput(_absolute(entry), missing_reason(entry)))
        elif not os.access(entry, os.R_OK):
            failures.append(FailedInput(_absolute(entry), "not readable (permission denied)"))
        else:
            files.append(_absolute(entry))
    return files, failures


def _absolute(path: str | Path) -> str:
    """Absolute, as the shards' ``path`` column (without resolving links, as the local engine)."""
    return os.path.abspath(os.path.expanduser(path))


# ---------------------------------------------------------------- decode (CPU tasks)


def decode_bytes(data: bytes, name: str, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``; the same decoder chain as ``clapcli.audio.decode.load_audio``."""
    import soundfile as sf

    from clapcli.audio.decode import check_samples, resample, to_mono

    if not data:
        raise InputError(f"{name}: empty file (0 bytes)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return _decode_via_file(data, name, sample_rate)  # PyAV formats (AAC/M4A...) need a real file
    mono = to_mono(samples)
    check_samples(mono, name)
    return resample(mono, int(rate), sample_rate)


def _decode_via_file(data: bytes, name: str, sample_rate: int) -> np.ndarray:
    from clapcli.audio.decode import load_audio

    with tempfile.TemporaryDirectory(prefix="clapcli-ray-") as folder:
        temp = Path(folder) / f"input{Path(name).suffix}"
        temp.write_bytes(data)
        try:
            return load_audio(temp, sample_rate).samples
        except InputError as exc:
            raise InputError(str(exc).replace(str(temp), name)) from None


def decode_batch(batch: Any, sample_rate: int, scheme: str | None = None) -> Any:
    """Ray map_batches function: (bytes, path) rows -> (path, samples, error) rows. ``scheme`` puts back
    the ``s3://``-style prefix that Ray's listing drops, so rows name files as the user did."""
    import pyarrow as pa

    paths = [with_scheme(p, scheme) for p in batch.column("path").to_pylist()]
    blobs = batch.column("bytes")
    samples: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for index, path in enumerate(paths):
        try:
            samples.append(decode_bytes(blobs[index].as_py(), path, sample_rate))
            errors.append(None)
        except Exception as exc:  # one bad file must not stop the job; it goes to the errors table
            samples.append(None)
            errors.append(_reason(exc, path))
    return pa.table({"path": pa.array(paths, pa.string()), "samples": _ragged(samples),
                     "error": pa.array(errors, pa.string())})


def uri_scheme(inputs: list[str]) -> str | None:
    """The object-store scheme of the inputs (Ray reads all inputs through one filesystem), if any."""
    scheme = inputs[0].split("://", 1)[0].lower() if inputs and is_uri(inputs[0]) else None
    return None if scheme in (None, "file", "local") else scheme


def with_scheme(path: str, scheme: str | None) -> str:
    return f"{scheme}://{path}" if scheme and "://" not in path else path


def _ragged(arrays: list[np.ndarray | None]) -> Any:
    """Variable-length float32 rows as one Arrow large_list column (nulls for failed rows), no copies per value."""
    import pyarrow as pa

    lengths = [0 if a is None else len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    present = [a for a in arrays if a is not None]
    values = np.concatenate(present).astype(np.float32, copy=False) if present else np.zeros(0, np.float32)
    mask = pa.array([a is None for a in arrays], pa.bool_())
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values), mask=mask)


def _reason(exc: BaseException, name: str) -> str:
    if isinstance(exc, InputError):
        text = str(exc)
        return text[len(name) + 2:] if text.startswith(f"{name}: ") else text
    if isinstance(exc, MemoryError):
        return "out of memory while decoding; is the file enormous?"
    return f"could not be read ({type(exc).__name__}: {exc})"


# ---------------------------------------------------------------- model actors


def embedding_schema(dim: int) -> Any:
    """The local ``embed --format parquet`` columns (``clapcli.io.arrow``) plus ``error``."""
    from clapcli.io.arrow import embedding_schema as schema

    return schema(dim, with_error=True)


class EmbedActor:
    """One model per actor process, loaded once; embeds decoded rows with the local engine's code path."""

    def __init__(self, spec: ModelSpec, num_cpus: float = 1.0) -> None:
        from clapcli.models.loading import load_embedding_model

        self.spec = spec
        self.model = load_embedding_model(spec.name, spec.device, spec.dtype, spec.quantize, spec.long_audio)
        if self.model.device.type == "cpu":  # one actor per CPU slot: don't oversubscribe the node
            import torch

            torch.set_num_threads(max(1, int(num_cpus)))
        self.schema = embedding_schema(self.model.embedding_dim)

    def __call__(self, batch: Any) -> Any:
        from clapcli.core.embed import embed_media
        from clapcli.core.pipeline import ArrayInput

        sources = [FailedInput(path, error) if error is not None else ArrayInput(path, samples, self.model.sample_rate)
                   for path, samples, error in _rows(batch)]
        results = embed_media(self.model, sources, self.spec.normalize, self.spec.batch_size, workers=1)
        return self._table(list(results))

    def _table(self, results: list[Any]) -> Any:
        from clapcli.io.arrow import embedding_table
        from clapcli.io.writers import embedding_record
        from clapcli.results import Embedding

        good = [r for r in results if isinstance(r, Embedding)]
        errors = [{"path": r.source, "error": r.reason} for r in results if isinstance(r, FailedInput)]
        return embedding_table([embedding_record(r, with_vector=False) for r in good], [r.vector for r in good],
                               errors, dim=self.model.embedding_dim, with_error=True)


def _rows(batch: Any) -> Iterable[tuple[str, np.ndarray | None, str | None]]:
    """(path, samples, error) per row, slicing the Arrow buffer instead of copying to Python lists."""
    column = batch.column("samples").combine_chunks()
    values = column.values.to_numpy(zero_copy_only=False)
    offsets = column.offsets.to_numpy()
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    for index, (path, error) in enumerate(zip(batch.column("path").to_pylist(), batch.column("error").to_pylist())):
        samples = values[offsets[index]:offsets[index + 1]] if valid[index] else None
        yield path, samples, error


# ---------------------------------------------------------------- shards


class ShardSink:
    """Ray Data datasink: each write task streams its blocks into one embeddings shard and (when any input
    failed) one errors shard. Files are written under a hidden name and renamed when complete, so a
    retried or killed task never leaves half a shard under a visible name."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.written = 0
        self.failed = 0

    def write(self, blocks: Iterable[Any], ctx: Any) -> tuple[int, int]:
        filesystem, root = filesystem_for(self.output)
        name = f"{SHARD_PREFIX}{getattr(ctx, 'task_idx', 0):05d}-{uuid.uuid4().hex[:12]}.parquet"
        shards = {"ok": _Shard(filesystem, root, name), "err": _Shard(filesystem, f"{root}/{ERRORS_DIR}", name)}
        try:
            for block in blocks:
                _write_block(block, shards)
        except BaseException:
            for shard in shards.values():
                shard.discard()
            raise
        for shard in shards.values():
            shard.commit()
        return shards["ok"].rows, shards["err"].rows

    def on_write_complete(self, result: Any) -> None:
        returns = getattr(result, "write_returns", result)  # Ray >= 2.39 passes a WriteResult, older a list
        self.written = sum(r[0] for r in returns)
        self.failed = sum(r[1] for r in returns)


def _write_block(block: Any, shards: dict[str, _Shard]) -> None:
    import pyarrow.compute as pc

    if block.num_rows == 0:
        return
    failed = pc.is_valid(block.column("error"))
    shards["ok"].add(block.filter(pc.invert(failed)).drop_columns(["error"]))
    shards["err"].add(block.filter(failed).select(["path", "error"]))


class _Shard:
    """One Parquet file, opened on its first non-empty table."""

    def __init__(self, filesystem: Any, folder: str, name: str) -> None:
        self.filesystem = filesystem
        self.final = f"{folder}/{name}"
        self.temp = f"{folder}/.{name}.part"
        self.writer: Any = None
        self.rows = 0

    def add(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            return
        if self.writer is None:
            self.filesystem.create_dir(self.final.rsplit("/", 1)[0], recursive=True)
            self.writer = pq.ParquetWriter(self.temp, table.schema, filesystem=self.filesystem)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.filesystem.move(self.temp, self.final)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.filesystem.delete_file(self.temp)


def prepare_output(location: str, overwrite: bool) -> None:
    """Refuse a directory that already holds shards unless ``overwrite``, which deletes those shards
    (and the old errors table) only; fail early when the location cannot be created."""
    import pyarrow.fs as pafs

    filesystem, root = filesystem_for(location)
    if filesystem.get_file_info(root).type == pafs.FileType.File:
        raise OutputError(f"--output {location} is a file; --engine ray writes a directory of Parquet shards")
    old = shard_files(location)
    errors_root = f"{root}/{ERRORS_DIR}"
    if filesystem.get_file_info(errors_root).type == pafs.FileType.Directory:
        old += [f.path for f in filesystem.get_file_info(pafs.FileSelector(errors_root))
                if f.base_name.startswith(SHARD_PREFIX)]
    if old and not overwrite:
        raise OutputError(f"--output {location} already holds {len(old)} Parquet files; pass --overwrite to "
                          "replace them")
    try:
        for path in old:
            filesystem.delete_file(path)
        filesystem.create_dir(root, recursive=True)
    except OSError as exc:
        raise OutputError(f"--output {location}: {_first_line(exc)}") from None


# ---------------------------------------------------------------- the job


def embed_with_ray(
    inputs: list[str], output: str, spec: ModelSpec, options: RayOptions, overwrite: bool = False,
    name_failures: int = 50,
) -> RayRunSummary:
    """Embed every audio file under ``inputs`` into Parquet shards in ``output``; failed inputs go to
    ``output/_errors/``. Connects to ``$RAY_ADDRESS`` when set, else starts a local Ray."""
    from clapcli.models.loading import default_embedding_model

    ray = require_ray()
    spec = replace(spec, name=spec.name or default_embedding_model())  # actors must not read their own env
    sample_rate = _probe_model(spec)
    output = output if is_uri(output) else os.path.abspath(os.path.expanduser(output))  # workers run elsewhere
    local = uri_scheme(inputs) is None and not any(is_uri(raw) for raw in inputs)
    files, unlisted = list_local_inputs(inputs) if local else (inputs, [])
    prepare_output(output, overwrite)
    if unlisted:
        write_failures(output, unlisted)
    summary = RayRunSummary(output, failed=len(unlisted))
    if files:
        written, failed = _run_job(ray, files, local, output, sample_rate, spec, options)
        summary.written, summary.failed = written, summary.failed + failed
    if summary.failed:
        summary.failures = read_failures(output, name_failures)
    return summary


def _run_job(ray: Any, files: list[str], listed: bool, output: str, sample_rate: int, spec: ModelSpec,
             options: RayOptions) -> tuple[int, int]:
    """(embeddings written, inputs failed) of one Ray Data job over ``files``."""
    _init_ray(ray, options.progress)
    options = fit_to_cluster(options, float(ray.cluster_resources().get("CPU", 0)))
    try:
        dataset = _pipeline(ray, files, sample_rate, spec, options, listed)
        sink = _datasink(output)
        dataset.write_datasink(sink)
    except ClapcliError:
        raise
    except Exception as exc:  # Ray wraps worker failures (model load on a node, lost node...) in many types
        raise ClapcliError(f"the Ray job failed: {_first_line(exc)}") from None
    return sink.written, sink.failed


def write_failures(output: str, failures: list[FailedInput]) -> None:
    """Failures found on the driver, as one more shard of ``DIR/_errors/`` (the same columns)."""
    import pyarrow as pa

    filesystem, root = filesystem_for(output)
    shard = _Shard(filesystem, f"{root}/{ERRORS_DIR}", f"{SHARD_PREFIX}driver-{uuid.uuid4().hex[:12]}.parquet")
    shard.add(pa.table({"path": pa.array([f.source for f in failures], pa.string()),
                        "error": pa.array([f.reason for f in failures], pa.string())}))
    shard.commit()


def _probe_model(spec: ModelSpec) -> int:
    """Load the model once on the driver: a wrong name or an image model fails here, before the cluster
    spends anything, and the decode tasks learn the sample rate."""
    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(spec.name, "cpu", "float32", None, spec.long_audio)
    if model.modality != "audio" or model.sample_rate is None:
        raise UsageError(f"--engine ray embeds audio; '{model.model_id}' is an {model.modality} model "
                         "(use the local engine)")
    return int(model.sample_rate)


def fit_to_cluster(options: RayOptions, cluster_cpus: float) -> RayOptions:
    """Shrink the CPU share of CPU actors so the decode tasks still get a slot: with every CPU held by
    an actor, decoding never runs and the job hangs (e.g. --concurrency 2 on a 2-CPU machine)."""
    needed = options.concurrency * options.num_cpus + options.decode_cpus
    if options.num_gpus > 0 or cluster_cpus <= 0 or needed <= cluster_cpus:
        return options
    share = (cluster_cpus - options.decode_cpus) / options.concurrency
    if share < 0.1:
        raise UsageError(f"--concurrency {options.concurrency} needs more CPUs than the Ray cluster has "
                         f"({cluster_cpus:g}); lower it")
    return replace(options, num_cpus=round(share, 2))


def _init_ray(ray: Any, progress: bool) -> None:
    import logging

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):  # an existing cluster (ray.init reads the variable); no local settings
            ray.init(logging_level=logging.WARNING)
        else:  # a local Ray on this machine, quiet
            ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-dataset INFO lines are noise on stderr
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled" (we did)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False


def _pipeline(ray: Any, inputs: list[str], sample_rate: int, spec: ModelSpec, options: RayOptions,
              listed: bool = False) -> Any:
    """``listed``: ``inputs`` are files listed on the driver (tried whatever their extension, as the
    local engine tries explicit files); otherwise Ray lists them, keeping audio extensions."""
    from clapcli.media.kinds import AUDIO_EXTENSIONS

    read = ray.data.read_binary_files
    # Reading is I/O: give it the decode share, not a whole CPU (Ray < 2.60 takes it in ray_remote_args).
    share = ({"num_cpus": options.decode_cpus} if "num_cpus" in inspect.signature(read).parameters
             else {"ray_remote_args": {"num_cpus": options.decode_cpus}})
    extensions = None if listed else sorted(e.lstrip(".") for e in AUDIO_EXTENSIONS)
    try:
        dataset = read(inputs, include_paths=True, file_extensions=extensions, **share)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise UsageError(f"cannot list the inputs: {_first_line(exc)}") from None
    dataset = dataset.map_batches(
        decode_batch, fn_kwargs={"sample_rate": sample_rate, "scheme": uri_scheme(inputs)}, batch_format="pyarrow",
        batch_size=DECODE_ROWS, num_cpus=options.decode_cpus,
    )
    rows = EMBED_ROWS_GPU if options.num_gpus > 0 else EMBED_ROWS_CPU
    return dataset.map_batches(
        EmbedActor, fn_constructor_kwargs={"spec": spec, "num_cpus": options.num_cpus}, batch_format="pyarrow",
        batch_size=rows, compute=ray.data.ActorPoolStrategy(size=options.concurrency),
        num_gpus=options.num_gpus, num_cpus=options.num_cpus,
    )


def _datasink(output: str) -> Any:
    """A ``ShardSink`` that is also a ``ray.data.Datasink`` (made here so importing this module needs no Ray)."""
    from ray.data import Datasink

    class ClapcliShardDatasink(ShardSink, Datasink):
        pass

    return ClapcliShardDatasink(output)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__
