"""One ``--engine ray`` job: list the inputs, probe the model, start or join Ray, build the Data pipeline
(read -> decode tasks -> model actors -> shard sink) and sum up what it wrote."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clapcli.core.ray_engine.actor import EmbedActor, ModelSpec
from clapcli.core.ray_engine.decode import decode_batch, uri_scheme
from clapcli.core.ray_engine.sink import make_datasink, prepare_output, write_failures
from clapcli.core.shards import is_uri, read_failures
from clapcli.errors import ClapcliError, InvalidField, UsageError, missing_extra
from clapcli.results import FailedInput
from clapcli.text import first_line

DECODE_ROWS = 8  # files per decode task call: small, decoded audio is big (~2 MB per 10 s clip)
# Files per actor call (the actor then batches them by model windows like the local engine). Ray hands an
# actor one call's worth at a time, so small calls spread a few hundred files over all actors; GPU actors
# take more per call to fill their larger batches.
EMBED_ROWS_CPU = 8
EMBED_ROWS_GPU = 64


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


def fit_to_cluster(options: RayOptions, cluster_cpus: float) -> RayOptions:
    """Shrink the CPU share of CPU actors so the decode tasks still get a slot: with every CPU held by
    an actor, decoding never runs and the job hangs (e.g. --concurrency 2 on a 2-CPU machine)."""
    needed = options.concurrency * options.num_cpus + options.decode_cpus
    if options.num_gpus > 0 or cluster_cpus <= 0 or needed <= cluster_cpus:
        return options
    share = (cluster_cpus - options.decode_cpus) / options.concurrency
    if share < 0.1:
        raise InvalidField("concurrency", "{concurrency} {value} needs more CPUs than the Ray cluster has "
                           "({cpus:g}); lower it", value=options.concurrency, cpus=cluster_cpus)
    return replace(options, num_cpus=round(share, 2))


def _probe_model(spec: ModelSpec) -> int:
    """Load the model once on the driver: a wrong name or an image model fails here, before the cluster
    spends anything, and the decode tasks learn the sample rate. With --runtime openvino|onnx this also
    writes the export into the cache once, before the actors read it."""
    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(spec.name, "cpu", long_audio=spec.long_audio, runtime=spec.runtime,
                                 precision=spec.precision)
    if model.modality != "audio" or model.sample_rate is None:
        raise InvalidField("engine", "{engine} ray embeds audio; '{model_id}' is an {modality} model (use the local "
                           "engine)", model_id=model.model_id, modality=model.modality)
    return int(model.sample_rate)


def _run_job(ray: Any, files: list[str], listed: bool, output: str, sample_rate: int, spec: ModelSpec,
             options: RayOptions) -> tuple[int, int]:
    """(embeddings written, inputs failed) of one Ray Data job over ``files``."""
    _init_ray(ray, options.progress)
    options = fit_to_cluster(options, float(ray.cluster_resources().get("CPU", 0)))
    try:
        dataset = _pipeline(ray, files, sample_rate, spec, options, listed)
        sink = make_datasink(output)
        dataset.write_datasink(sink)
    except ClapcliError:
        raise
    except Exception as exc:  # Ray wraps worker failures (model load on a node, lost node...) in many types
        raise ClapcliError(f"the Ray job failed: {first_line(exc, 200)}") from None
    return sink.written, sink.failed


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
        raise UsageError(f"cannot list the inputs: {first_line(exc, 200)}") from None
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
