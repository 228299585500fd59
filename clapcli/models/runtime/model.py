"""An export directory behind the ``EmbeddingModel`` interface, without torch.

``ExportedAudioModel`` is the shared windowed-audio base (``clapcli.models.windowed``: window
geometry, repeat-padding, ``--long-audio`` windows, lazily streamed long clips) with numpy log-mels
in ``prepare`` and the towers called through ONNX Runtime or OpenVINO. A fused LAION export adds
``--long-audio fusion`` (its default, as on torch): a long clip becomes one fused stack
(``clapcli.audio.fusion``) for the export's second audio tower (``fused.py``). Text goes through the
``tokenizers`` library with the settings the export recorded (checked equal to the transformers
tokenizer at export).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.audio.decode import AudioStream
from clapcli.audio.features import MelSpec, log_mel_numpy, log_mel_of_blocks
from clapcli.audio.fusion import fusion_mel_numpy
from clapcli.errors import InvalidField, UsageError
from clapcli.models.precision import Precision, choose
from clapcli.models.runtime.exported import ExportedTextSide, HostDevice, Rows, TextTokens, rows  # noqa: F401
from clapcli.models.runtime.manifest import Manifest, read_manifest
from clapcli.models.windowed import WindowedAudioBackend


@dataclass(frozen=True)
class WindowFeatures:
    """Log-mels of one clip's model windows, (windows, 1, frames, mels) float32; or, with ``fusion``, a
    long clip's fused stack (1, 4, frames, mels) for a fused export's fusion tower."""

    features: np.ndarray
    fusion: bool = False

    @property
    def cost(self) -> int:
        return len(self.features)


class ExportedAudioModel(ExportedTextSide, WindowedAudioBackend):
    """LAION CLAP (unfused or fused) or MS-CLAP from an export directory."""

    family = "exported"  # replaced by the manifest's family

    def __init__(self, directory: Path, manifest: Manifest, towers: Any, long_audio: str | None) -> None:
        self.family = manifest.family  # type: ignore[misc]
        self.attach(directory, manifest, towers)
        self.fused = manifest.fused
        if long_audio == "fusion" and not self.fused:  # the torch backends' messages
            needed, this = (("a fused LAION checkpoint", "MS-CLAP") if self.family == "msclap"
                            else ("a fused checkpoint", "unfused"))
            raise InvalidField("long_audio", "{long_audio} fusion needs {needed}; '{where}' is {this} (use mean)",
                               needed=needed, where=directory, this=this)
        self.long_audio = long_audio or ("fusion" if self.fused else "mean")
        audio = manifest.audio
        self.repeat_whole = audio.get("fit") == "repeat"  # MS-CLAP repeats whole copies, no zero tail
        self.set_windows(int(audio["sample_rate"]), int(audio["window_samples"]), MelSpec(**audio["mel"]))

    # ---------------------------------------------------------------- prepare (decode threads: numpy only)

    def fit_window(self, piece: np.ndarray) -> np.ndarray:
        if not self.repeat_whole or len(piece) >= self.window_samples:
            return super().fit_window(piece)
        return np.tile(piece, -(-self.window_samples // len(piece)))[: self.window_samples]

    def windows_item(self, windows: np.ndarray) -> WindowFeatures:
        return WindowFeatures(log_mel_numpy(windows, self.mel_spec)[:, None].astype(np.float32))

    def prepare_samples(self, samples: np.ndarray) -> WindowFeatures:
        if self.long_audio == "fusion" and len(samples) > self.window_samples:
            return self._fusion_item(log_mel_numpy(samples, self.mel_spec)[0].astype(np.float32))
        return super().prepare_samples(samples)

    def prepare_long_stream(self, stream: AudioStream) -> Any:
        if self.long_audio != "fusion":
            return super().prepare_long_stream(stream)
        # the whole clip's mel, block by block (as torch's path): never the clip's samples at once
        return self._fusion_item(log_mel_of_blocks(stream.blocks(), stream.length, self.mel_spec))

    def _fusion_item(self, mel: np.ndarray) -> WindowFeatures:
        frames = self.window_samples // self.mel_spec.hop_length + 1
        return WindowFeatures(fusion_mel_numpy(mel, frames)[None], fusion=True)

    # ---------------------------------------------------------------- encode (model thread)

    def encode_prepared(self, items: Sequence[WindowFeatures]) -> Rows:
        """One row per item, the mean of its windows' embeddings; a fused stack (one row) takes the fusion
        tower, windows the plain one."""
        out = np.empty((len(items), self.embedding_dim))
        for fusion in (False, True):
            chosen = [i for i, item in enumerate(items) if item.fusion == fusion]
            if chosen:
                tower = self.towers.audio_fusion if fusion else self.towers.audio
                embeddings = tower(np.concatenate([items[i].features for i in chosen]))
                out[chosen] = _mean_per_item(np.asarray(embeddings, dtype=np.float64), [items[i].cost for i in chosen])
        return rows(out)


def _mean_per_item(embeddings: np.ndarray, costs: list[int]) -> np.ndarray:
    owners = np.repeat(np.arange(len(costs)), costs)
    sums = np.zeros((len(costs), embeddings.shape[1]))
    np.add.at(sums, owners, embeddings)
    return sums / np.asarray(costs)[:, None]


def load_export(directory: str | Path, runtime: str | None = None, precision: str | None = None,
                long_audio: str | None = None, manifest: Manifest | None = None) -> Any:
    """An export directory, run by its own format's runtime (or ``runtime`` when it names the same)."""
    directory = Path(directory)
    manifest = manifest or read_manifest(directory)
    runtime = runtime or manifest.format
    if runtime == "torch" != manifest.format:
        raise InvalidField("runtime", "export directory '{where}' holds {towers} towers, not torch; pass {name} with "
                           "the source checkpoint for {runtime} torch", where=directory, towers=manifest.format)
    if runtime != manifest.format:  # the advice is another command's option (clap export --format)
        raise UsageError(f"export directory '{directory}' holds {manifest.format} towers, not {runtime}; export it "
                         f"with 'clap export {manifest.source_model} DIR --format {runtime}'")
    choice: Precision = choose(precision, runtime)
    if runtime == "onnx":
        from clapcli.models.runtime.onnx_backend import OnnxTowers as Towers
    else:
        from clapcli.models.runtime.openvino_backend import OpenVinoTowers as Towers  # type: ignore[assignment]
    towers = Towers(directory, manifest, choice.compute)
    if manifest.media_tower == "image":
        from clapcli.models.runtime.image import ExportedImageModel

        if long_audio not in (None, "mean"):
            raise InvalidField("long_audio", "{long_audio} applies to audio models; '{where}' is an image model",
                               where=directory)
        return ExportedImageModel(directory, manifest, towers)
    if manifest.family == "pe-audio":
        from clapcli.models.runtime.pe_model import ExportedPeAudioModel

        return ExportedPeAudioModel(directory, manifest, towers, long_audio)
    return ExportedAudioModel(directory, manifest, towers, long_audio)
