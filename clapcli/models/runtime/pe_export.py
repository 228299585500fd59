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
