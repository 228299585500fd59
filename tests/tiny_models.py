"""Tiny random checkpoints built offline (docs/design.md §4): same code paths, toy sizes."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "this is a sound of dog barking cat meowing rain on roof speech music noise piano drums vacuum "
    "cleaner bird singing car engine water ocean wind thunder siren people talking calm soft loud "
    "techno beat guitar violin clapping footsteps door knock glass breaking crackle vinyl"
).split()


def training_corpus() -> list[str]:
    lines = [" ".join(WORDS[i : i + 6]) for i in range(len(WORDS))]
    return lines * 4 + ["This is a sound of " + w + "." for w in WORDS]


def build_roberta_tokenizer(path: Path, vocab_size: int = 400):
    """A byte-level BPE tokenizer with RoBERTa's special tokens, trained on a toy corpus."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        training_corpus(), vocab_size=vocab_size, min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    path.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(path))
    # transformers 5 takes ``vocab``/``merges``; ``vocab_file=`` would silently give 5 tokens.
    tokenizer = RobertaTokenizer(vocab=str(path / "vocab.json"), merges=str(path / "merges.txt"), model_max_length=77)
    assert len(tokenizer) >= vocab_size // 2, len(tokenizer)
    return tokenizer


def build_tiny_clap(path: Path, fused: bool = False, seed: int = 0) -> Path:
    """Save a tiny random ``ClapModel`` + processor at ``path`` (loads with from_pretrained)."""
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    tokenizer = build_roberta_tokenizer(path / "_tok")
    text = ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=80, projection_dim=16,
    )
    audio = ClapAudioConfig(
        depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8,
        hidden_size=64, projection_dim=16, enable_fusion=fused, window_size=8,
    )
    config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)
    torch.manual_seed(seed)
    model = ClapModel(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    extractor = ClapFeatureExtractor(truncation="fusion" if fused else "rand_trunc", padding="repeatpad")
    extractor.save_pretrained(path)
    return path
