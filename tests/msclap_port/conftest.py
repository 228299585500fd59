"""Fixtures for the MS-CLAP port and ``clap convert``: tokenizers trained offline, tiny original checkpoints.

The originals are built from their own code (``msclap_reference``) with tiny sizes and random weights
and saved in their release layout: ``{"model": state_dict}`` for MS-CLAP, ``{"state_dict":
{"module." + key: ...}}`` for LAION.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import msclap_reference  # noqa: E402
from msclap_reference import SAMPLE_TEXTS, requires_reference  # noqa: E402,F401

CORPUS = [
    "a dog barking in the distance", "rain falling on a tin roof", "a man speaking on the phone",
    "birds singing in the morning", "a car engine starting", "music with a piano and drums",
    "water running from a tap", "people laughing at a party", "an alarm clock ringing", "wind blowing",
    "the sound of a cat", "footsteps on a wooden floor", "a baby crying", "thunder and heavy rain",
] * 4

TINY_HTSAT = {"embed_dim": 16, "depths": [1, 1, 2, 1], "num_heads": [1, 2, 2, 4]}


def _train_bpe(vocab_size: int, special_tokens: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return tokenizer


def _vocab_and_merges(tokenizer, directory: Path) -> tuple[dict, list]:
    directory.mkdir(parents=True, exist_ok=True)
    files = tokenizer.model.save(str(directory))
    merges_file = next(f for f in files if f.endswith("merges.txt"))
    lines = Path(merges_file).read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#")]
    return tokenizer.get_vocab(), merges


@pytest.fixture(scope="session")
def gpt2_tokenizer_dir(tmp_path_factory) -> Path:
    """A GPT-2-style byte-level BPE: '!' is id 0 (as in GPT-2), '<|endoftext|>' the last id."""
    from transformers import GPT2Tokenizer

    directory = tmp_path_factory.mktemp("gpt2-tokenizer")
    vocab, merges = _vocab_and_merges(_train_bpe(400, []), directory / "raw")
    vocab["<|endoftext|>"] = len(vocab)
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def roberta_tokenizer_dir(tmp_path_factory) -> Path:
    from transformers import RobertaTokenizer

    directory = tmp_path_factory.mktemp("roberta-tokenizer")
    vocab, merges = _vocab_and_merges(_train_bpe(400, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]), directory / "raw")
    RobertaTokenizer(vocab=vocab, merges=merges).save_pretrained(directory)
    return directory


def tiny_gpt2_config():
    from transformers import GPT2Config

    return GPT2Config(vocab_size=420, n_positions=96, n_embd=64, n_layer=2, n_head=1,
                      bos_token_id=399, eos_token_id=399)


def tiny_roberta_config():
    from transformers import RobertaConfig

    # LAION's text projection is hard-wired to 768 inputs: keep the width, cut depth and MLP size.
    return RobertaConfig(vocab_size=420, hidden_size=768, num_hidden_layers=2, num_attention_heads=12,
                         intermediate_size=256, max_position_embeddings=96, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)


@pytest.fixture(scope="session")
def msclap_original(tmp_path_factory):
    """(original model, path of CLAP_weights_2023.pth-layout checkpoint)."""
    import torch

    model = msclap_reference.build_msclap(tiny_gpt2_config(), htsat=TINY_HTSAT, d_proj=48, seed=1)
    path = tmp_path_factory.mktemp("msclap-original") / "CLAP_weights_2023.pth"
    torch.save({"model": model.state_dict()}, path)
    return model, path


def _laion(tmp_path_factory, fused: bool):
    import torch

    model = msclap_reference.build_laion(tiny_roberta_config(), fused=fused, htsat=TINY_HTSAT, seed=2)
    path = tmp_path_factory.mktemp("laion-original") / ("fused.pt" if fused else "unfused.pt")
    state = {"module." + key: value for key, value in model.state_dict().items()}
    torch.save({"epoch": 45, "state_dict": state}, path)
    return model, path


@pytest.fixture(scope="session")
def laion_unfused_original(tmp_path_factory):
    return _laion(tmp_path_factory, fused=False)


@pytest.fixture(scope="session")
def laion_fused_original(tmp_path_factory):
    return _laion(tmp_path_factory, fused=True)
