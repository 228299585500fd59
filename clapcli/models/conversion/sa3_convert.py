"""``clap convert stable-audio-3``: a Stable Audio 3 release in stable-audio-tools form (``model_config.json`` +
``model.safetensors``, how Stability publishes it) -> a directory diffusers' ``StableAudio3Pipeline`` (and
the inpaint / audio-to-audio pipelines) load with ``from_pretrained``, and ``clap generate --model DIR`` uses.

The weights are read as safetensors (or a ``.ckpt`` through ``torch.load(weights_only=True)``), never by
running pickled code; every tensor is mapped into a component built from the config and loaded
strictly; the directory is written as every ``clap convert`` output is (manifest, staging, swap).
See docs/stable-audio.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError
from clapcli.models.conversion.output_dir import prepare_output, write_staged
from clapcli.models.conversion.report import ConversionReport, quiet_transformers
from clapcli.models.conversion.sa3_config import SA3Config, read_config
from clapcli.models.conversion.sa3_keys import SA3Keys, map_state

CONFIG_FILE = "model_config.json"
WEIGHT_FILES = ("model.safetensors", "model.ckpt")
FAMILY = "stable-audio-3"


def locate(checkpoint: str | Path) -> tuple[Path, Path]:
    """(weights file, model_config.json): a release folder, or its weights file with the config beside it; a
    hub id (``stabilityai/stable-audio-3-small-sfx``) is downloaded first."""
    path = Path(checkpoint).expanduser()
    if not path.exists() and _looks_like_repo(str(checkpoint)):
        from clapcli.models.hub import ModelRef, fetch_file

        ref = ModelRef(str(checkpoint), str(checkpoint), False)
        config = fetch_file(ref, CONFIG_FILE)
        return fetch_file(ref, WEIGHT_FILES[0]), config  # type: ignore[return-value]
    if path.is_dir():
        weights = next((path / name for name in WEIGHT_FILES if (path / name).is_file()), None)
        if weights is None:
            raise ModelLoadError(f"'{path}' holds no model.safetensors; pass a Stable Audio 3 release folder or its "
                                 "weights file")
        folder = path
    elif path.is_file():
        weights, folder = path, path.parent
    else:
        raise ModelLoadError(f"checkpoint '{path}' does not exist; pass a Stable Audio 3 release folder "
                             "(model_config.json + model.safetensors) or a hub id")
    config = folder / CONFIG_FILE
    if not config.is_file():
        raise ModelLoadError(f"'{folder}' has no {CONFIG_FILE} beside '{weights.name}'; a Stable Audio 3 checkpoint "
                             "is converted with the model_config.json published with it")
    return weights, config


def _looks_like_repo(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def read_weights(path: Path) -> dict:
    """The tensors of a safetensors file (no code runs), or of a .ckpt/.pt through ``weights_only``."""
    if path.suffix.lower() in (".ckpt", ".pt", ".pth"):
        from clapcli.models.conversion.checkpoint import load_original_state_dict

        return load_original_state_dict(path)
    if path.suffix.lower() != ".safetensors":
        raise ModelLoadError(f"checkpoint '{path}' is neither .safetensors nor .ckpt; clapcli reads those only")
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError: a cut or foreign file
        reason = str(exc).splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"checkpoint '{path}' is not a readable safetensors file ({reason}); it may be cut "
                             "short: download it again") from None


def convert_sa3(checkpoint: str | Path, output: str | Path, text_encoder: str | None = None,
                overwrite: bool = False) -> ConversionReport:
    """Convert one Stable Audio 3 release; returns what was done."""

    weights, config_path = locate(checkpoint)
    cfg = read_config(config_path)
    output = Path(output).expanduser()
    target = prepare_output(output, weights, overwrite)  # before the slow part
    quiet_transformers()
    source = str(weights)
    keys = map_state(read_weights(weights), cfg.vae, cfg.transformer, source)
    if keys.unknown:
        raise ModelLoadError(f"checkpoint '{source}' has {len(keys.unknown)} key(s) no Stable Audio 3 component "
                             f"takes, e.g. '{keys.unknown[0]}'; is this a Stable Audio 3 checkpoint?")
    components = build_components(cfg, keys, source)
    from clapcli.models.conversion.sa3_text import load_text_encoder

    encoder, tokenizer, where = load_text_encoder(cfg, config_path.parent, text_encoder,
                                                  keys.components["text_encoder"])
    pipe = assemble(cfg, components, encoder, tokenizer)
    write_staged(lambda staging: pipe.save_pretrained(staging, safe_serialization=True), target, output, source)
    parameters = {name: sum(p.numel() for p in model.parameters()) for name, model in components.items()}
    parameters["text_encoder"] = sum(p.numel() for p in encoder.parameters())
    parameters["total"] = sum(parameters.values())
    mapped = sum(len(tensors) for tensors in keys.components.values())
    return ConversionReport(
        family=FAMILY, source=source, output=str(target), parameters=parameters, mapped_keys=mapped,
        dropped_keys=[], dropped_patterns=dict(keys.dropped),
        config={"max_seconds": cfg.max_seconds, "sample_rate": cfg.vae["sampling_rate"], "distilled": cfg.distilled,
                "text_encoder": where, "embed_dim": cfg.transformer["embed_dim"], "depth": cfg.transformer["depth"]})


def build_components(cfg: SA3Config, keys: SA3Keys, source: str) -> dict[str, Any]:
    """transformer, vae and duration_embedder, built from the config and holding the checkpoint's tensors."""
    import warnings

    import torch
    from diffusers import AutoencoderSAME, StableAudio3DiTModel
    from diffusers.pipelines.stable_audio_3 import StableAudio3DurationEmbedder

    with warnings.catch_warnings():  # weight_norm's deprecation notice, on every SAME block
        warnings.simplefilter("ignore", FutureWarning)
        models = {"transformer": StableAudio3DiTModel(**cfg.transformer), "vae": AutoencoderSAME(**cfg.vae),
                  "duration_embedder": StableAudio3DurationEmbedder(**cfg.duration)}
    tensors = keys.components
    if cfg.padding == "zero":  # zeroed padded positions == a learned padding vector of zeros
        tensors["transformer"].setdefault("prompt_padding_embedding", torch.zeros(cfg.transformer["cond_token_dim"]))
    # Derived buffers diffusers builds itself: the duration embedder's Fourier frequencies, and the bottleneck's
    # running std when the reference trained without auto-scaling (its absence means no scaling: 1).
    derived = {"duration_embedder": {"freqs"}, "vae": {"bottleneck.running_std"}}
    for name, model in models.items():
        full = model.state_dict()
        _check(full, tensors[name], derived.get(name, set()), source, name)
        full.update({key: value.to(full[key].dtype) for key, value in tensors[name].items()})
        with torch.no_grad():
            model.load_state_dict(full, strict=True)
        model.eval()
    return models


def _check(expected: dict, got: dict, derived: set[str], source: str, component: str) -> None:
    unexpected = sorted(set(got) - set(expected))
    missing = sorted(set(expected) - set(got) - derived)
    if unexpected or missing:
        what = f"'{unexpected[0]}' has no place in" if unexpected else f"'{missing[0]}' is missing for"
        raise ModelLoadError(f"checkpoint '{source}' does not match its model_config.json: {what} the {component} "
                             f"({len(unexpected)} unexpected, {len(missing)} missing key(s))")
    for key, value in got.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelLoadError(f"checkpoint '{source}' does not match its model_config.json: {component} key "
                                 f"'{key}' is {tuple(value.shape)} in the checkpoint, {tuple(expected[key].shape)} "
                                 "by the config")


def assemble(cfg: SA3Config, components: dict[str, Any], encoder: Any, tokenizer: Any) -> Any:
    """The text-to-audio pipeline (the inpaint and audio-to-audio ones load the same directory)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, StableAudio3Pipeline

    # The pipeline passes its own log-SNR sigmas, so shift 1 leaves them as given; the distilled model samples
    # with ping-pong re-noising (stochastic_sampling), the base model with deterministic Euler.
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, stochastic_sampling=cfg.distilled)
    pipe = StableAudio3Pipeline(vae=components["vae"], text_encoder=encoder, tokenizer=tokenizer,
                                duration_embedder=components["duration_embedder"],
                                transformer=components["transformer"], scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe
