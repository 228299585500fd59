"""``clap export``: the audio (or image) and text towers (with projections) of a torch model as ONNX or OpenVINO IR.

The towers are traced by ``torch.onnx.export`` (opset 18, ``dynamo=False``: docs/design.md §3) with a
dynamic batch, and a dynamic text length; OpenVINO IR is converted from that ONNX graph with float32
weights (``compress_to_fp16=False``). Beside them: the tokenizer (``tokenizer.json``, checked to give
the ids of the transformers tokenizer), the feature settings, and a manifest with the agreement with
torch measured on probe clips and texts. Everything is written into a staging sibling directory
and swapped into place at the end, so an interrupted export leaves nothing that looks complete;
``--overwrite`` replaces only a directory holding exactly what ``clap export`` wrote, under the rules
``clap convert`` follows too (``clapcli.models.written_dir``).

One piece (~340 lines): tracing the towers, converting them, checking the agreement with torch and
writing the manifest are the steps of one transaction on one staging directory.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import InvalidField, ModelLoadError, OutputError, UsageError, missing_extra
from clapcli.models import written_dir
from clapcli.models.fingerprint import path_digest
from clapcli.models.hub import cached_revision
from clapcli.models.runtime import FORMATS
from clapcli.models.runtime.agreement import PROBE_TEXTS, measure_agreement
from clapcli.models.runtime.fused import export_fusion_tower, extra_towers, fused_settings, is_fused, longer_flags
from clapcli.models.runtime.manifest import MANIFEST_NAME, Manifest, is_export, read_manifest

log = logging.getLogger(__name__)

OPSET = 18
EXPORT_STEPS = 5


def check_extras(fmt: str) -> None:
    """Fail before loading anything when the packages of ``fmt`` are missing."""
    if fmt not in FORMATS:
        raise InvalidField("fmt", "{fmt} {value!r}: choose one of {choices}", value=fmt, choices=", ".join(FORMATS))
    runtime = ("onnxruntime", "onnx") if fmt == "onnx" else ("openvino", "openvino")
    needed = (("onnx", "onnx"), runtime)
    for module, extra in needed:
        if importlib.util.find_spec(module) is None:
            raise missing_extra(module, extra)


def export_model(name: str | None, directory: str | Path, fmt: str = "openvino", overwrite: bool = False,
                 on_step: Callable[[str], None] | None = None) -> Manifest:
    """Export ``name`` (alias, hub id, local checkpoint) into ``directory``; returns the manifest written."""
    from clapcli.models.request import LoadRequest
    from clapcli.models.torch_loader import load_torch

    directory = Path(directory).expanduser()
    check_extras(fmt)
    if name and is_export(Path(name).expanduser()):
        raise UsageError(f"'{name}' is already an export; pass the checkpoint it came from "
                         f"({read_manifest(Path(name).expanduser()).source_model})")
    source = _local_source(name)
    target = written_dir.check_output(directory, EXPORT, overwrite, source=source)  # before the slow part
    digest = path_digest(source) if source is not None else None  # before loading: what was read, or newer
    step = on_step or (lambda _label: None)
    started = time.perf_counter()
    step("loading the torch model")
    long_audio = None if _source_family(name) == "altclip" else "mean"  # image models take no --long-audio
    model = load_torch(LoadRequest(name, device="cpu", dtype="float32", long_audio=long_audio))
    _check_exportable(model)
    work = _staging(target, directory)
    try:
        step("tracing the towers to ONNX")
        onnx_dir = work if fmt == "onnx" else work / "_onnx"
        onnx_dir.mkdir(exist_ok=True)
        _export_onnx(model, onnx_dir)
        if fmt == "openvino":
            step("converting to OpenVINO IR")
            media = "audio" if model.family == "pe-audio" else _media_input(model)[0]
            _convert_openvino(onnx_dir, work, [media, *extra_towers(model), "text"])
            shutil.rmtree(onnx_dir)
        step("writing the tokenizer and manifest")
        manifest = _manifest(model, fmt, _save_tokenizer(model, work))
        manifest.source_digest = digest
        manifest.write(work)
        step("measuring agreement with torch")
        manifest.agreement = measure_agreement(model, work)
        manifest.export_seconds = round(time.perf_counter() - started, 1)
        manifest.files = {p.name: p.stat().st_size for p in sorted(work.iterdir()) if p.name != MANIFEST_NAME}
        manifest.write(work)
        written_dir.follow_umask(work)
        written_dir.publish(work, target, directory, EXPORT)
    except OSError as exc:
        raise OutputError(f"could not write export directory '{directory}': {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone already after a successful swap
    return manifest


def _written_files(folder: Path) -> set[str] | None:
    """The files an earlier ``clap export`` wrote into ``folder`` (manifest included), None when it is not one."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("format_version"), int):
        return None
    files = written_dir.plain_names(data.get("files"))
    return files | {MANIFEST_NAME} if files else None


EXPORT = written_dir.Writer("clap export", MANIFEST_NAME, "an export", _written_files)


def _local_source(name: str | None) -> Path | None:
    """The checkpoint directory ``name`` names on this machine, which the export must never replace."""
    if not name:
        return None
    path = Path(name).expanduser()
    return path if path.exists() else None


def _staging(target: Path, directory: Path) -> Path:
    try:
        return written_dir.staging_dir(target)
    except OSError as exc:
        raise OutputError(f"cannot write beside export directory '{directory}': {exc.strerror or exc}") from None


def _source_family(name: str | None) -> str | None:
    """The registry family of ``name`` from its config alone (before loading weights)."""
    from clapcli.models import registry
    from clapcli.models.hub import read_config
    from clapcli.models.torch_loader import resolve_embedding_ref

    return registry.family_from_config(read_config(resolve_embedding_ref(name)))


def _check_exportable(model: Any) -> None:
    family = getattr(model, "family", "?")
    if family not in ("laion-clap", "msclap", "altclip", "pe-audio"):
        raise ModelLoadError(f"model '{model.model_id}' is a '{family}' model, which 'clap export' cannot write")


# ---------------------------------------------------------------- towers


def _towers(model: Any) -> tuple[Any, Any]:
    """(audio or image, text) towers with their projections; a fused LAION audio tower for its plain branch."""
    import torch

    network = model.network
    if model.family == "altclip":
        return _image_towers(network)
    laion = model.family == "laion-clap"

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            if laion:
                pooled = self.network.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
                return self.network.text_projection(pooled)
            return self.network._text_embeds(input_ids, attention_mask)[0]

    return _audio_tower(model, longer=False if is_fused(model) else None), TextTower().eval()


def _audio_tower(model: Any, longer: bool | None) -> Any:
    """The audio tower with its projection; ``longer`` picks a fused LAION tower's branch (``fused.py``)."""
    import torch

    network = model.network
    laion = model.family == "laion-clap"

    class AudioTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_features: torch.Tensor) -> torch.Tensor:
            if laion:
                flags = longer_flags(input_features, longer)
                pooled = self.network.audio_model(input_features=input_features, **flags).pooler_output
                return self.network.audio_projection(pooled)
            return self.network._audio_embeds(input_features, None)[0]

    return AudioTower().eval()


def _image_towers(network: Any) -> tuple[Any, Any]:
    """AltCLIP / CLIP: vision tower pooler -> visual_projection; text tower pooler -> text_projection."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            pooled = self.network.vision_model(pixel_values=pixel_values).pooler_output
            return self.network.visual_projection(pooled)

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            pooled = self.network.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
            return self.network.text_projection(pooled)

    return ImageTower().eval(), TextTower().eval()


def _media_input(model: Any) -> tuple[str, str, Any]:
    """(tower file stem, input name, a dummy batch of 2) of the audio or image tower."""
    import torch

    if model.family == "altclip":
        vision = model.network.config.vision_config
        return "image", "pixel_values", torch.zeros(2, 3, int(vision.image_size), int(vision.image_size))
    frames = model.window_samples // model.mel_spec.hop_length + 1
    return "audio", "input_features", torch.zeros(2, 1, frames, model.mel_spec.n_mels)


def _export_onnx(model: Any, out: Path) -> None:
    import warnings

    import torch

    ids, mask = _torch_tokens(model, list(PROBE_TEXTS[:2]))
    if model.family == "pe-audio":  # raw samples of any length, frame outputs (pe_export.py)
        from clapcli.models.runtime.pe_export import export_pe_onnx

        export_pe_onnx(model, out, OPSET, (ids, mask))
        return
    media_tower, text_tower = _towers(model)
    stem, input_name, features = _media_input(model)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(media_tower, (features,), str(out / f"{stem}.onnx"), opset_version=OPSET, dynamo=False,
                          input_names=[input_name], output_names=["embeddings"],
                          dynamic_axes={input_name: {0: "batch"}, "embeddings": {0: "batch"}})
        torch.onnx.export(text_tower, (ids, mask), str(out / "text.onnx"), opset_version=OPSET, dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embeddings": {0: "batch"}})
        if is_fused(model):
            export_fusion_tower(_audio_tower(model, longer=True), model, out, OPSET)


def _convert_openvino(onnx_dir: Path, out: Path, towers: list[str]) -> None:
    from clapcli.models.runtime.openvino_backend import import_openvino

    openvino = import_openvino()
    core = openvino.Core()
    for tower in towers:
        converted = core.read_model(str(onnx_dir / f"{tower}.onnx"))  # the ONNX frontend, no converter tool
        openvino.save_model(converted, str(out / f"{tower}.xml"), compress_to_fp16=False)  # float32 weights


# ---------------------------------------------------------------- tokenizer and manifest


def _hf_tokenizer(model: Any) -> Any:
    return model.tokenizer if model.family in ("laion-clap", "altclip", "pe-audio") else model.processor.tokenizer


def _torch_tokens(model: Any, texts: list[str]) -> tuple[Any, Any]:
    """The ids and mask the torch backend feeds its text tower."""
    if model.family == "altclip":  # as clapcli.models.windowed.project_texts tokenizes
        tokens = model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_text_tokens,
                                 return_tensors="pt")
    elif model.family in ("laion-clap", "pe-audio"):
        tokens = model.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    else:
        tokens = model.processor(text=texts, return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]


def _save_tokenizer(model: Any, out: Path) -> dict[str, Any]:
    """tokenizer.json plus the settings that make the ``tokenizers`` library give the same ids."""
    from clapcli.models.runtime.exported import TextTokens

    tokenizer = _hf_tokenizer(model)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelLoadError(f"model '{model.model_id}': its tokenizer has no fast (tokenizers) form to export")
    backend.save(str(out / "tokenizer.json"))
    laion = model.family in ("laion-clap", "pe-audio")  # no suffix, truncated at the tokenizer's own limit
    limit = getattr(tokenizer, "model_max_length", None)
    max_length = int(limit) if laion and limit and limit < 100_000 else None
    if model.family == "altclip":
        max_length = int(model.max_text_tokens)
    settings = {
        "tokenizer": "tokenizer.json",
        "suffix": "" if laion or model.family == "altclip" else " <|endoftext|>",
        "max_length": max_length,
        "pad_id": int(tokenizer.pad_token_id),
        "pad_token": str(tokenizer.pad_token),
    }
    probe = list(PROBE_TEXTS) + ["word " * 200]
    ids, mask = _torch_tokens(model, probe)
    ours = TextTokens(out / "tokenizer.json", settings)(probe)
    if not (np.array_equal(ours[0], ids.numpy()) and np.array_equal(ours[1], mask.numpy())):
        raise ModelLoadError(f"model '{model.model_id}': its tokenizer gives other ids through the tokenizers "
                             "library; it cannot be exported")
    return settings


def _manifest(model: Any, fmt: str, text: dict[str, Any]) -> Manifest:
    from clapcli.version import __version__

    if model.family == "altclip":
        from clapcli.models.runtime.image import image_settings

        return Manifest(family=model.family, format=fmt, source_model=model.model_id,
                        source_revision=cached_revision(model.model_id), clapcli_version=__version__,
                        embedding_dim=int(model.embedding_dim), logit_scale=float(model.logit_scale), audio={},
                        text=text, image=image_settings(model.image_processor))
    if model.family == "pe-audio":
        from clapcli.models.runtime.pe_export import pe_audio_settings

        return Manifest(family=model.family, format=fmt, source_model=model.model_id,
                        source_revision=cached_revision(model.model_id), clapcli_version=__version__,
                        embedding_dim=int(model.embedding_dim), logit_scale=float(model.logit_scale),
                        logit_bias=float(model.logit_bias), audio=pe_audio_settings(model), text=text)
    mel = asdict(model.mel_spec)
    return Manifest(
        family=model.family, format=fmt, source_model=model.model_id, source_revision=cached_revision(model.model_id),
        clapcli_version=__version__, embedding_dim=int(model.embedding_dim), logit_scale=float(model.logit_scale),
        audio={"sample_rate": model.sample_rate, "window_samples": model.window_samples,
               "fit": "repeat-pad" if model.family == "laion-clap" else "repeat", "mel": mel,
               **fused_settings(model)},
        text=text,
    )
