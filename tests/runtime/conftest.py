"""Exports of tiny LAION CLAP and MS-CLAP checkpoints in both formats, built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CORPUS = ["a dog barking in the distance", "rain falling on a tin roof", "music with a piano and drums",
          "birds singing in the morning", "a car engine starting", "wind blowing", "the sound of a cat"] * 4


def build_tiny_msclap(path: Path, seed: int = 3) -> Path:
    """A tiny random MS-CLAP checkpoint in clapcli's port layout, with a GPT-2-style tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Tokenizer

    from clapcli.models.msclap import (
        MSClapAudioConfig,
        MSClapConfig,
        MSClapFeatureExtractor,
        MSClapModel,
        MSClapProcessor,
        MSClapTextConfig,
    )

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    raw = path / "_raw"
    raw.mkdir(parents=True, exist_ok=True)
    bpe.model.save(str(raw))
    lines = (raw / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#")]
    vocab = bpe.get_vocab()
    vocab["<|endoftext|>"] = len(vocab)
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges)
    text = MSClapTextConfig(vocab_size=len(vocab) + 1, n_positions=96, n_embd=32, hidden_size=32,
                            num_hidden_layers=1, num_attention_heads=2, projection_dim=16,
                            bos_token_id=len(vocab) - 1, eos_token_id=len(vocab) - 1)
    audio = MSClapAudioConfig(depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8,
                              hidden_size=64, window_size=8, projection_dim=16)
    config = MSClapConfig.from_text_audio_configs(text, audio)
    torch.manual_seed(seed)
    MSClapModel(config).eval().save_pretrained(path)
    MSClapProcessor(MSClapFeatureExtractor(), tokenizer).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_msclap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_msclap(tmp_path_factory.mktemp("models") / "tiny-msclap")


@pytest.fixture(scope="session")
def sources(tiny_clap: Path, tiny_msclap: Path) -> dict[str, Path]:
    return {"laion-clap": tiny_clap, "msclap": tiny_msclap}


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory, sources: dict[str, Path]) -> dict[tuple[str, str], Path]:
    """(family, format) -> export directory."""
    from clapcli.models.runtime.export import export_model

    root = tmp_path_factory.mktemp("exports")
    out = {}
    for family, source in sources.items():
        for fmt in ("onnx", "openvino"):
            out[family, fmt] = root / f"{family}-{fmt}"
            export_model(str(source), out[family, fmt], fmt)
    return out


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A short tone, 2.5 s of noise at 44.1 kHz stereo, and a 23 s chirp (several model windows)."""
    import soundfile as sf

    directory = tmp_path_factory.mktemp("runtime-audio")
    rng = np.random.default_rng(5)
    paths = []
    t = np.arange(int(23 * 48000)) / 48000
    for name, data, rate in (
        ("tone.wav", 0.4 * np.sin(2 * np.pi * 330 * t[:48000]), 48000),
        ("noise.flac", 0.2 * rng.standard_normal((int(2.5 * 44100), 2)), 44100),
        ("chirp.wav", 0.3 * np.sin(2 * np.pi * (100 + 300 * t) * t), 48000),
    ):
        sf.write(directory / name, data.astype(np.float32), rate)
        paths.append(directory / name)
    return paths
