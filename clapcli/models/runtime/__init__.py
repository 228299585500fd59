"""Exported runtimes: the audio and text towers of a model as ONNX or OpenVINO IR, run without torch.

``clap export`` writes a directory (``export.export_model``); ``load_model`` sees its manifest
(``manifest.MANIFEST_NAME``) and serves it through ``model.ExportedAudioModel``, which keeps the
shared numpy feature path of ``clapcli.models.windowed`` and swaps the tower calls for an ONNX
Runtime (``onnx_backend``) or OpenVINO (``openvino_backend``) session. ``precision`` turns
``--precision`` is turned into a compute type by ``clapcli.models.precision``, and ``auto`` turns
``--runtime auto`` into the fastest runtime installed.
"""

from __future__ import annotations

from clapcli.models.request import PRECISIONS, RUNTIMES  # noqa: F401  (re-exported)

FORMATS = ("openvino", "onnx")
