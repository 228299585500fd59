"""Text-to-speech checkpoints (VITS text encoder, 512 generated embeddings, --transcription)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from clapcli.core.generate import GenerationSettings, open_generator
from clapcli.errors import MissingDependencyError, UsageError

from .conftest import SECONDS


@pytest.fixture(scope="module")
def tts(tiny_tts: Path):
    return open_generator(str(tiny_tts), device="cpu")


def test_tts_equals_pipeline_with_512_embeddings(tts):
    from diffusers import AudioLDM2Pipeline
    from transformers import GPT2LMHeadModel

    assert tts.is_tts
    gpt2 = tts.pipe.language_model
    lm_head = GPT2LMHeadModel(gpt2.config).eval()
    lm_head.transformer.load_state_dict(gpt2.state_dict())
    reference = AudioLDM2Pipeline(**dict(tts.pipe.components, language_model=lm_head))
    reference.set_progress_bar_config(disable=True)
    reference.scheduler = tts.pipe.scheduler
    expected = reference("a calm female voice", transcription="hello world", num_inference_steps=2,
                         audio_length_in_s=SECONDS, max_new_tokens=512,
                         generator=torch.Generator().manual_seed(0)).audios
    settings = GenerationSettings(steps=2, seconds=SECONDS, seed=0, scheduler="ddim", transcription="hello world")
    [audio] = tts.generate("a calm female voice", settings)
    assert np.abs(expected[0]).max() > 1e-3
    assert np.max(np.abs(audio.samples - expected[0])) <= 1e-6
    assert audio.metadata()["transcription"] == "hello world"


def test_tts_needs_transcription(tts):
    with pytest.raises(UsageError, match="with transcription "):
        tts.check(GenerationSettings(seconds=SECONDS))


def test_missing_phonemizer_is_named(tiny_tts: Path, tmp_path: Path, monkeypatch):
    """The released TTS tokenizers phonemize; without phonemizer the message names the extra."""
    import importlib.util

    copy = tmp_path / "tts"
    shutil.copytree(tiny_tts, copy)
    config_path = copy / "tokenizer_2" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["phonemize"] = True
    config_path.write_text(json.dumps(config))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "phonemizer" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install 'clapcli\[tts\]'"):
        open_generator(str(copy), device="cpu")


def test_missing_tts_checkpoint_cli(run, tmp_path: Path):
    result = run(["generate", "a calm female voice", "--transcription", "hello world", "--model", "tts-gigaspeech",
                  "-o", tmp_path / "x.wav"])
    assert result.exit_code == 1
    assert "anhnct/audioldm2_gigaspeech" in result.stderr and "local" in result.stderr
