"""The towers of an ONNX export run by ONNX Runtime (CPU): float32, or dynamic int8 of the MatMuls.

``--precision int8`` quantizes an exported tower with ONNX Runtime's own dynamic quantization (int8
weights of every MatMul, activations quantized per batch, as torch's dynamic int8 of the linear
layers) once, into ``$CLAPCLI_HOME/onnx-int8``, keyed by the float32 file's content (a hash remembered
by path, size, times and inode: ``clapcli.models.fingerprint``), so the export directory itself is
never written to (it may be read-only or shared).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from clapcli import settings
from clapcli.errors import ClapcliError, ModelLoadError, missing_extra
from clapcli.models import written_dir
from clapcli.models.fingerprint import file_digest
from clapcli.models.runtime.manifest import Manifest

log = logging.getLogger(__name__)


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise missing_extra("onnxruntime", "onnx") from None
    return onnxruntime


def int8_cache() -> Path:
    return settings.home() / "onnx-int8"


def quantized_tower(source: Path) -> Path:
    """``source``'s dynamic int8 twin, written into the cache on first use (atomically: a directory is
    renamed into place only once complete, so a killed run leaves nothing that looks finished)."""
    # Keyed on the tower's bytes (hashed once, then remembered by stat): a tower replaced with its old
    # modification time kept gets its own copy, and identical towers share one.
    key = hashlib.sha256(f"int8-matmul|{file_digest(source)}".encode()).hexdigest()[:16]
    target = int8_cache() / key / source.name
    if target.is_file():
        return target
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise missing_extra("onnxruntime", "onnx") from None
    try:
        scratch = written_dir.staging_dir(target.parent)  # a killed run's scratch is removed here
    except OSError as exc:
        raise _unwritable(source, exc) from None
    log.info("quantizing %s to int8 once, into %s", source, target.parent)
    try:
        # The quantizer's shape inference writes NAME-inferred.onnx beside the file it is given: give it a
        # copy in the scratch directory, so nothing is ever written into the export (it may be read-only).
        original = scratch / f"float32-{source.name}"
        shutil.copyfile(source, original)
        _quantize(quantize_dynamic, QuantType.QInt8, original, scratch / source.name)
        original.unlink()
        if target.parent.exists():  # left by an interrupted cleanup: not a finished copy
            shutil.rmtree(target.parent)
        os.replace(scratch, target.parent)
    except OSError as exc:
        if not target.is_file():  # not another run's copy, finished meanwhile
            raise _unwritable(source, exc) from None
    except Exception as exc:  # noqa: BLE001 - the quantizer raises plain errors on graphs it cannot read
        raise ModelLoadError(f"--precision int8: cannot quantize {source} ({type(exc).__name__}: {exc}); use "
                             "--precision exact") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _unwritable(source: Path, exc: OSError) -> ClapcliError:
    return ClapcliError(f"--precision int8: cannot write the int8 copy of {source.name} under {int8_cache()} "
                        f"({exc.strerror or exc}); set CLAPCLI_HOME to a writable directory with free space")


def _quantize(quantize_dynamic: Any, weight_type: Any, source: Path, target: Path) -> None:
    """int8 weights for every MatMul (as torch's dynamic int8 of the linear layers); the quantizer's
    advice to pre-process the graph goes to the root logger and warnings, kept off stderr."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(source, target, weight_type=weight_type, op_types_to_quantize=["MatMul"])
    finally:
        root.setLevel(level)


class OnnxTowers:
    runtime = "onnx"

    def __init__(self, directory: Path, manifest: Manifest, compute: str) -> None:
        self.ort = import_onnxruntime()
        self.directory = Path(directory)
        self.manifest = manifest
        self.compute = "int8" if compute == "int8" else "float32"  # no bfloat16 CPU kernels (precision.choose)
        self._sessions: dict[str, Any] = {}

    def session(self, tower: str) -> Any:
        if tower not in self._sessions:
            path = self.directory / f"{tower}.onnx"
            options = self.ort.SessionOptions()
            options.log_severity_level = 3  # its warnings would drown our one-line messages
            try:
                model = quantized_tower(path) if self.compute == "int8" else path
            except FileNotFoundError:  # removed since the manifest was read
                raise ModelLoadError(f"export directory '{self.directory}': {path.name} is missing; export again "
                                     "with --overwrite") from None
            try:
                self._sessions[tower] = self.ort.InferenceSession(
                    str(model), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/InvalidGraph types
                raise ModelLoadError(f"export directory '{self.directory}': {path.name} is not a readable ONNX model "
                                     f"({type(exc).__name__}); export again with --overwrite") from None
        return self._sessions[tower]

    def run(self, tower: str, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Every output of ``tower`` for named inputs (PE-Audio's frame-level tower has two)."""
        return list(self.session(tower).run(None, inputs))

    def audio(self, features: np.ndarray) -> np.ndarray:
        return self.session("audio").run(None, {"input_features": features})[0]

    def audio_fusion(self, features: np.ndarray) -> np.ndarray:
        return self.session(self.manifest.fusion_tower).run(None, {"input_features": features})[0]

    def image(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.session("image").run(None, {"pixel_values": pixel_values})[0]

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session("text").run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]
