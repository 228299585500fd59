"""The manifest of an export directory (``clapcli-export.json``): what was exported, from what, by
which clapcli, how to feed it, and how closely it agreed with torch when it was written.

Reading it checks everything a run needs before any session is built, so a corrupt, partial,
foreign or crafted directory fails in one line naming the file, never deep inside a runtime (and
never reaches outside its directory: ``manifest_checks.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError
from clapcli.models.runtime.manifest_checks import check_files, check_values

MANIFEST_NAME = "clapcli-export.json"
FORMAT_VERSION = 1  # bumped when a manifest's meaning changes; newer ones are refused
SUPPORTED_FAMILIES = ("laion-clap", "msclap", "altclip", "pe-audio")
IMAGE_FAMILIES = ("altclip",)  # image and text towers (AltCLIP, CLIP), not audio
TOWER_FILES = {"onnx": ("{}.onnx",), "openvino": ("{}.xml", "{}.bin")}
# Fused LAION: a second audio tower for long clips' fused stacks (``audio["fused"]``). An older clapcli
# reads such a manifest as unfused and runs plain windows only, which give the same numbers, so the
# format version stays.
FUSION_TOWER = "audio_fusion"


@dataclass
class Manifest:
    family: str
    format: str  # "onnx" or "openvino": the runtime an export directory defaults to
    source_model: str  # hub id or local directory it was exported from
    source_revision: str | None
    clapcli_version: str
    embedding_dim: int
    logit_scale: float
    audio: dict[str, Any]  # sample_rate, window_samples, fit ("repeat-pad"|"repeat"), mel (MelSpec fields);
    # fused LAION adds fused (true) and fusion_tower (the file stem of the fused-stack tower); PE-Audio has
    # sample_rate, hop, window_samples (its longest window) and frame_level instead of fit and mel
    text: dict[str, Any]  # tokenizer file, suffix, max_length, pad_id, pad_token
    precision: str = "float32"  # of the stored weights
    agreement: dict[str, Any] = field(default_factory=dict)  # measured against torch at export
    export_seconds: float | None = None
    files: dict[str, int] = field(default_factory=dict)  # name -> bytes
    format_version: int = FORMAT_VERSION
    image: dict[str, Any] = field(default_factory=dict)  # image families: the image processor's settings
    logit_bias: float = 0.0  # added to the scaled similarities: PE-Audio's learned bias (sigmoid scoring)
    source_digest: str | None = None  # a local source's content (``clapcli.models.fingerprint``): a cached
    # export of a checkpoint whose weights changed since is written again, whatever their modification time

    @property
    def media_tower(self) -> str:
        """The non-text tower's file stem: "image" for AltCLIP/CLIP, "audio" otherwise."""
        return "image" if self.family in IMAGE_FAMILIES else "audio"

    @property
    def fused(self) -> bool:
        return bool(self.audio.get("fused"))

    @property
    def fusion_tower(self) -> str:
        return str(self.audio.get("fusion_tower") or FUSION_TOWER)

    @property
    def towers(self) -> list[str]:
        """The file stems of every tower: the media tower, the fused-stack tower of fused LAION, text."""
        return [self.media_tower, *([self.fusion_tower] if self.fused else []), "text"]

    def tower_files(self, tower: str) -> list[str]:
        return [pattern.format(tower) for pattern in TOWER_FILES[self.format]]

    def write(self, directory: Path) -> None:
        (Path(directory) / MANIFEST_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def is_export(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST_NAME).is_file()


def read_manifest(directory: str | Path) -> Manifest:
    """The checked manifest of an export directory; every file it names must be there."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    where = f"export directory '{directory}'"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{where} has no {MANIFEST_NAME}; write one with 'clap export MODEL DIR'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{where}: {MANIFEST_NAME} is unreadable ({type(exc).__name__}); "
                             "export again with 'clap export MODEL DIR --overwrite'") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: {MANIFEST_NAME} is not a JSON object; export again")
    version = data.get("format_version")
    if not isinstance(version, int):
        raise ModelLoadError(f"{where}: {MANIFEST_NAME} has no format_version; export again")
    if version > FORMAT_VERSION:
        raise ModelLoadError(f"{where} was written by a newer clapcli ({data.get('clapcli_version', '?')}, export "
                             f"format {version}); upgrade clapcli or export again with this one")
    family = data.get("family")
    if family not in SUPPORTED_FAMILIES:
        raise ModelLoadError(f"{where} holds a '{family}' model, which the exported runtimes do not serve; "
                             "use the torch checkpoint with --runtime torch")
    if data.get("format") not in TOWER_FILES:
        raise ModelLoadError(f"{where}: unknown format {data.get('format')!r} in {MANIFEST_NAME}; export again")
    try:
        manifest = Manifest(**{key: value for key, value in data.items() if key in Manifest.__dataclass_fields__})
    except TypeError as exc:
        raise ModelLoadError(f"{where}: {MANIFEST_NAME} lacks a field ({exc}); export again") from None
    check_values(manifest, path)
    named = [("audio.fusion_tower" if manifest.fused and tower == manifest.fusion_tower else name, name)
             for tower in manifest.towers for name in manifest.tower_files(tower)]
    named.append(("text.tokenizer", str(manifest.text.get("tokenizer"))))
    check_files(directory, path, named)
    for _field, name in named:
        if not (directory / name).is_file():
            raise ModelLoadError(f"{where} is incomplete: {name} is missing; export again with "
                                 "'clap export MODEL DIR --overwrite'")
    return manifest
