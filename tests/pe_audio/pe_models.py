"""Tiny random Perception Encoder Audio checkpoints, built offline: ``PeAudioModel``,
``PeAudioFrameLevelModel`` and ``PeAudioVideoModel``, each saved with a tokenizer and a feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiny_models import build_roberta_tokenizer

# Trained checkpoints carry a learned scale and bias; random init leaves both at 0 (every logit 0).
SCALE, BIAS = 7.5, -2.0


def _text_config(tokenizer: Any) -> dict:
    return dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=128, global_attn_every_n_layers=1,
                local_attention=16, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, cls_token_id=tokenizer.cls_token_id,
                sep_token_id=tokenizer.sep_token_id)


AUDIO = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, head_dim=16,
             dac_config=dict(encoder_hidden_size=4, codebook_dim=8, downsampling_ratios=[2, 8, 10, 12]))


def build_tiny_pe_audio(path: Path, frame_level: bool = False, seed: int = 0) -> Path:
    """A tiny random ``PeAudioModel`` (or ``PeAudioFrameLevelModel``) directory."""
    import torch
    from transformers import PeAudioConfig, PeAudioFeatureExtractor, PeAudioFrameLevelModel, PeAudioModel

    tokenizer = build_roberta_tokenizer(path / "_tok")
    config = PeAudioConfig(text_config=_text_config(tokenizer), audio_config=AUDIO)
    torch.manual_seed(seed)
    model = (PeAudioFrameLevelModel if frame_level else PeAudioModel)(config).eval()
    with torch.no_grad():
        model.text_audio_logit_scale.fill_(SCALE)
        model.text_audio_logit_bias.fill_(BIAS)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    PeAudioFeatureExtractor().save_pretrained(path)
    return path


def write_clips(directory: Path) -> dict[str, Path]:
    """48 kHz float WAVs of different lengths and content (name -> path)."""
    import numpy as np
    import soundfile as sf

    rate = 48_000
    rng = np.random.default_rng(0)
    t = np.arange(int(2.3 * rate)) / rate
    clips = {
        "tone": 0.4 * np.sin(2 * np.pi * 440 * t[: int(1.0 * rate) + 77]),
        "noise": 0.2 * rng.standard_normal(int(2.3 * rate)),
        "chirp": 0.3 * np.sin(2 * np.pi * (200 + 900 * t[: int(0.7 * rate) + 5]) * t[: int(0.7 * rate) + 5]),
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, samples in clips.items():
        paths[name] = directory / f"{name}.wav"
        sf.write(paths[name], samples.astype(np.float32), rate, subtype="FLOAT")
    return paths


def reference_forward(model_dir: Path, paths: list[Path], texts: list[str], frame_level: bool = False) -> Any:
    """transformers alone, one clip at a time through the feature extractor and the full forward pass:
    (logits (n_audio, n_text[, n_frames]), audio_embeds per clip, text_audio_embeds)."""
    import soundfile as sf
    import torch
    from transformers import AutoTokenizer, PeAudioFeatureExtractor, PeAudioFrameLevelModel, PeAudioModel

    model = (PeAudioFrameLevelModel if frame_level else PeAudioModel).from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    extractor = PeAudioFeatureExtractor.from_pretrained(model_dir)
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    logits, audio = [], []
    with torch.no_grad():
        for path in paths:
            samples, rate = sf.read(path, dtype="float32")
            inputs = extractor(samples, sampling_rate=rate, return_tensors="pt")
            out = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"], **inputs)
            logits.append(out.logits_audio_text[0])
            audio.append(out.audio_embeds[0])
            text = out.text_audio_embeds
    return logits, audio, text


def reference_frames(model_dir: Path, path: Path, texts: list[str], seconds: float | None = None) -> Any:
    """(n_frames, n_texts) ``sigmoid(PeAudioFrameLevelModel(...).logits_audio_text)`` of one file (its first
    ``seconds`` only when given), through the feature extractor, float64."""
    import numpy as np
    import soundfile as sf
    import torch
    from transformers import AutoTokenizer, PeAudioFeatureExtractor, PeAudioFrameLevelModel

    model = PeAudioFrameLevelModel.from_pretrained(model_dir).eval()
    tokens = AutoTokenizer.from_pretrained(model_dir)(texts, padding=True, return_tensors="pt")
    samples, rate = sf.read(path, dtype="float32")
    if seconds is not None:
        samples = samples[: int(seconds * rate)]
    inputs = PeAudioFeatureExtractor.from_pretrained(model_dir)(samples, sampling_rate=rate, return_tensors="pt")
    with torch.no_grad():
        logits = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"], **inputs)
    return 1.0 / (1.0 + np.exp(-logits.logits_audio_text[0].numpy().T.astype(np.float64)))


def build_tiny_pe_av(path: Path, reference: Path, seed: int = 2) -> tuple[Path, Path]:
    """A ``pe_audio_video`` checkpoint written by transformers itself: a real tiny ``PeAudioVideoModel``, saved
    with ``save_pretrained``, so the file holds the layout the released ``facebook/pe-av-*`` checkpoints have
    (transformers 5 stores each tied tensor once, under its source name: the text tower as ``text_model.*``,
    the audio encoder as ``audio_model.audio_encoder.*``, beside the video tower and the audio-video heads).
    Its video tower is a timm ViT and timm is not installed here, so timm's model factory is replaced by a
    stub module while the model is built (clapcli never reads the video tensors). Also saves its
    ``audio_model`` (the ``PeAudioModel`` sharing those weights) at ``reference``, for transformers to compare."""
    from unittest import mock

    import torch
    import transformers.models.timm_wrapper.modeling_timm_wrapper as timm_wrapper
    from transformers import PeAudioFeatureExtractor, PeAudioVideoConfig, PeAudioVideoModel

    class TimmStub(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(4, 4)

        def set_grad_checkpointing(self, enable: bool = True) -> None:
            pass

    tokenizer = build_roberta_tokenizer(path / "_tok")
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, head_dim=16)
    video = dict(small, vision_config={"architecture": "vit_stub", "num_classes": 4})
    config = PeAudioVideoConfig(text_config=_text_config(tokenizer),
                                audio_video_config=dict(audio_config=AUDIO, video_config=video, **small))
    torch.manual_seed(seed)
    with mock.patch.object(timm_wrapper, "requires_backends", lambda *args, **kwargs: None), \
            mock.patch.object(timm_wrapper, "_create_timm_model_with_error_handling", lambda *a, **k: TimmStub()):
        model = PeAudioVideoModel(config).eval()
    with torch.no_grad():
        model.audio_model.text_audio_logit_scale.fill_(SCALE)
        model.audio_model.text_audio_logit_bias.fill_(BIAS)
    shared = model.audio_model.text_model.embeddings.tok_embeddings.weight
    assert shared is model.text_model.embeddings.tok_embeddings.weight  # tied: one text tower
    model.save_pretrained(path)
    model.audio_model.save_pretrained(reference)
    for folder in (path, reference):
        tokenizer.save_pretrained(folder)
        PeAudioFeatureExtractor().save_pretrained(folder)
    return path, reference
