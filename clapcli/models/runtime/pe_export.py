"""``clap export`` of Perception Encoder Audio (docs/pe-audio.md, "Export"): the audio encoder (the DAC-style
convolutional front end and the transformer) with ``audio_head``, traced with a dynamic batch *and* a dynamic
number of samples; the text tower (ModernBERT) with ``text_audio_head`` on its first token, with a dynamic
number of tokens. A frame-level checkpoint's audio tower has a second output: ``audio_head`` of every frame
(``PeAudioFrameLevelModel``'s frame embeddings), so ``clap detect`` runs on the export too. The logit scale
and bias go in the manifest: the export scores with the sigmoid of ``<audio, text> * scale + bias``.

Each window is traced and run alone with an all-ones ``padding_mask`` (built inside the graph from the
input's shape), exactly as the torch backend runs it: windows of equal length share a batch, so no
padding is ever seen by the front end (which ignores the mask).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.models.runtime.agreement import PROBE_TEXTS

AUDIO_INPUT = "input_values"
FRAME_OUTPUT = "frame_embeddings"


def pe_towers(model: Any) -> tuple[Any, Any]:
    """(audio tower -> (embeddings[, frame embeddings]), text tower -> embeddings), torch modules."""
    import torch

    network = model.network
    frames = bool(model.frame_level)

    class AudioTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_values: torch.Tensor) -> Any:
            mask = torch.ones(input_values.shape[0], input_values.shape[-1], dtype=torch.long)
            out = self.network.audio_encoder(input_values=input_values, padding_mask=mask)
            pooled = self.network.audio_head(out.pooler_output)
            return (pooled, self.network.audio_head(out.last_hidden_state)) if frames else pooled

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.network.text_model(input_ids=input_ids, attention_mask=attention_mask,
                                          output_hidden_states=True)
            return self.network.text_audio_head(out.hidden_states[-1][:, 0])

    return AudioTower().eval(), TextTower().eval()


def export_pe_onnx(model: Any, out: Path, opset: int, tokens: tuple[Any, Any]) -> None:
    """Trace both towers into ``out`` (audio.onnx, text.onnx)."""
    import torch

    audio, text = pe_towers(model)
    values = torch.zeros(2, 1, 5 * model.hop)  # any length: the samples axis is dynamic
    outputs = ["embeddings", FRAME_OUTPUT] if model.frame_level else ["embeddings"]
    axes = {AUDIO_INPUT: {0: "batch", 2: "samples"}, "embeddings": {0: "batch"},
            FRAME_OUTPUT: {0: "batch", 1: "frames"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(audio, (values,), str(out / "audio.onnx"), opset_version=opset, dynamo=False,
                          input_names=[AUDIO_INPUT], output_names=outputs,
                          dynamic_axes={name: axes[name] for name in (AUDIO_INPUT, *outputs)})
        torch.onnx.export(text, tokens, str(out / "text.onnx"), opset_version=opset, dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embeddings": {0: "batch"}})


def pe_audio_settings(model: Any) -> dict[str, Any]:
    """The manifest's ``audio``: the input rate, the frame hop, the longest window, frame-level or not."""
    return {"sample_rate": int(model.sample_rate), "hop": int(model.hop), "window_samples": int(model.max_samples),
            "frame_level": bool(model.frame_level)}


def probe_clips(sample_rate: int) -> list[np.ndarray]:
    """Three lengths (none a multiple of the hop): noise, a tone, a chirp. Short, so a full-size export
    measures its agreement in seconds; the lengths differ from the traced one (dynamic length)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(2.7 * sample_rate) + 11) / sample_rate
    return [(0.3 * rng.standard_normal(sample_rate // 2 + 7)).astype(np.float32),
            (0.5 * np.sin(2 * np.pi * 440 * t[: int(1.3 * sample_rate)])).astype(np.float32),
            (0.4 * np.sin(2 * np.pi * (200 + 800 * t) * t)).astype(np.float32)]


def measure_pe_agreement(model: Any, directory: Path, compare: Any) -> dict[str, Any]:
    """Max |difference| and min cosine against torch: clip embeddings, text embeddings and, for a frame model,
    the frame scores ``clap detect`` writes (the sigmoid of the frame logits) of the longest probe clip
    against the probe texts. Scores, not logits: a logit of 300 off by 6e-4 (a full-size random model's,
    measured) is the same probability."""
    from clapcli.models.runtime.model import load_export

    exported = load_export(directory, long_audio="mean")
    clips = probe_clips(model.sample_rate)
    reference_audio = model.encode_prepared([model.prepare(c) for c in clips]).numpy()
    exported_audio = exported.encode_prepared([exported.prepare(c) for c in clips]).numpy()
    reference_text = model.encode_text(list(PROBE_TEXTS)).numpy()
    exported_text = exported.encode_text(list(PROBE_TEXTS)).numpy()
    result = {"probe": f"{len(clips)} clips of 0.5-2.7 s, {len(PROBE_TEXTS)} texts", "runtime": exported.runtime,
              "precision": exported.precision, **compare("audio", reference_audio, exported_audio),
              **compare("text", reference_text, exported_text)}
    if model.frame_level:
        reference = _sigmoid(model.frame_logits(clips[-1], reference_text))
        ours = _sigmoid(exported.frame_logits(clips[-1], reference_text))
        result.update(compare("frame_scores", reference.T, ours.T))
    return result


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
