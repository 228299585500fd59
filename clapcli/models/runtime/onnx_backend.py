"""The towers of an ONNX export run by ONNX Runtime (CPU, float32), sessions built on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import ModelLoadError, missing_extra
from clapcli.models.runtime.manifest import Manifest


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise missing_extra("onnxruntime", "onnx") from None
    return onnxruntime


class OnnxTowers:
    runtime = "onnx"

    def __init__(self, directory: Path, manifest: Manifest, compute: str) -> None:
        self.ort = import_onnxruntime()
        self.directory = Path(directory)
        self.manifest = manifest
        self.compute = "float32"  # ONNX Runtime's CPU kernels for these graphs are float32 (precision.choose)
        self._sessions: dict[str, Any] = {}

    def session(self, tower: str) -> Any:
        if tower not in self._sessions:
            path = self.directory / f"{tower}.onnx"
            options = self.ort.SessionOptions()
            options.log_severity_level = 3  # its warnings would drown our one-line messages
            try:
                self._sessions[tower] = self.ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/InvalidGraph types
                raise ModelLoadError(f"export directory '{self.directory}': {path.name} is not a readable ONNX model "
                                     f"({type(exc).__name__}); export again with --overwrite") from None
        return self._sessions[tower]

    def audio(self, features: np.ndarray) -> np.ndarray:
        return self.session("audio").run(None, {"input_features": features})[0]

    def image(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.session("image").run(None, {"pixel_values": pixel_values})[0]

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session("text").run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]
