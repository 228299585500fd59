"""The towers of an OpenVINO IR export compiled for the CPU; float32 or bfloat16 by precision hint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from clapcli import settings
from clapcli.errors import ModelLoadError, missing_extra
from clapcli.models.fingerprint import combined, file_digest
from clapcli.models.runtime.manifest import Manifest

# OpenVINO's CPU plugin picks bf16 by itself on CPUs that have it: the hint is always given.
HINTS = {"float32": "f32", "bfloat16": "bf16"}


def compile_cache() -> Path | None:
    """Where OpenVINO keeps compiled towers between runs: compiling the full-size audio and text towers
    takes 2-4 s per run, loading them from the cache 0.5 s (about 300 MB per tower and precision).
    OpenVINO keys a tower compiled by path on the .xml alone (a changed or truncated .bin would still be
    served compiled), so each tower gets its own subdirectory named by the content of its .xml and .bin
    (``tower_cache``). None (no cache) where clapcli's home is not writable."""
    directory = settings.home() / "openvino-cache"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory


def tower_cache(cache: Path, xml: Path) -> Path | None:
    """``cache``'s subdirectory for the tower ``xml`` (with its .bin), named by their content; None when one
    of the files cannot be read (compiling it then fails with its own message)."""
    try:
        digest = combined((path.name, file_digest(path)) for path in (xml, xml.with_suffix(".bin")))
    except OSError:
        return None
    return cache / digest[:20]


def import_openvino() -> Any:
    """``openvino``, with its usage telemetry off: its converter sends events to a web service unless a
    consent file says no; an absent ``openvino_telemetry`` module makes it use its own no-op stub."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    try:
        import openvino
    except ImportError:
        raise missing_extra("openvino", "openvino") from None
    return openvino


class OpenVinoTowers:
    runtime = "openvino"

    def __init__(self, directory: Path, manifest: Manifest, compute: str) -> None:
        self.ov = import_openvino()
        self.core = self.ov.Core()
        self.cache = compile_cache()
        self.directory = Path(directory)
        self.manifest = manifest
        self.compute = compute
        self._compiled: dict[str, Any] = {}

    def compiled(self, tower: str) -> Any:
        if tower not in self._compiled:
            path = self.directory / f"{tower}.xml"
            try:
                # By path, not a read model: with the compile cache warm OpenVINO then skips reading the IR
                # (0.13 s against 0.30 s for the full-size audio tower); the cache directory is named by the
                # .xml's and .bin's content, so a re-export in place or a changed .bin is compiled afresh.
                config = {"INFERENCE_PRECISION_HINT": HINTS[self.compute]}
                cache = tower_cache(self.cache, path) if self.cache is not None else None
                if cache is not None:
                    config["CACHE_DIR"] = str(cache)
                self._compiled[tower] = self.core.compile_model(str(path), "CPU", config)
            except Exception as exc:  # noqa: BLE001 - OpenVINO raises plain RuntimeErrors
                raise ModelLoadError(f"export directory '{self.directory}': {path.name} is not a readable OpenVINO "
                                     f"model ({type(exc).__name__}); export again with --overwrite") from None
        return self._compiled[tower]

    def run(self, tower: str, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Every output of ``tower`` for named inputs (PE-Audio's frame-level tower has two), float32."""
        compiled = self.compiled(tower)
        result = compiled(inputs)
        return [np.asarray(result[output], dtype=np.float32) for output in compiled.outputs]

    def audio(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled("audio")({"input_features": features})[0], dtype=np.float32)

    def audio_fusion(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled(self.manifest.fusion_tower)({"input_features": features})[0], dtype=np.float32)

    def image(self, pixel_values: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled("image")({"pixel_values": pixel_values})[0], dtype=np.float32)

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        result = self.compiled("text")({"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(result[0], dtype=np.float32)
