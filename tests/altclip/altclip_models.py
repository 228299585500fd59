"""Tiny random AltCLIP and CLIP checkpoints built offline (docs/design.md §4).

AltCLIP gets an XLM-R-style Unigram tokenizer trained on a small multilingual corpus (English,
Chinese, German); CLIP gets a byte-level BPE with CLIP's ``</w>`` word suffix. Both save an image
processor resizing to the tiny 32-pixel input.
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_SIZE = 32
PHRASES = [
    "a photo of a cat", "a photo of a dog", "a photo of a car", "a photo of a red square",
    "a photo of a green circle", "a blue sky", "a cat on the sofa", "a dog in the park",
    "一只猫", "一只狗", "一辆车", "沙发上的猫", "公园里的狗", "红色的正方形", "绿色的圆", "一张照片",
    "eine Katze", "ein Hund", "ein Auto", "Katze auf dem Sofa", "Hund im Park", "ein Foto von einer Katze",
    "ein rotes Quadrat", "ein grüner Kreis",
]
WORDS = (
    "red green blue yellow black white orange purple brown gray bird horse cow sheep fish tree flower house "
    "street mountain river beach city night morning train plane boat bicycle phone computer table chair window "
    "rot grün blau gelb schwarz weiß Vogel Pferd Kuh Schaf Fisch Baum Blume Haus Straße Berg Fluss Strand Stadt "
    "红 绿 蓝 黄 黑 白 鸟 马 牛 羊 鱼 树 花 房子 街道 山 河 海滩 城市 夜晚 火车 飞机 船 自行车 电话 电脑 桌子 椅子"
).split()
CORPUS = PHRASES * 8 + [" ".join(WORDS[i : i + 5]) for i in range(len(WORDS))] * 4


def build_xlmr_tokenizer(vocab_size: int = 300):
    """A Unigram tokenizer with XLM-R's special tokens and pre-tokenizer, wrapped in ``XLMRobertaTokenizer``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import XLMRobertaTokenizer

    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>",
    )
    unigram.train_from_iterator(CORPUS, trainer)
    vocab = [tuple(entry) for entry in json.loads(unigram.to_str())["model"]["vocab"]] + [("<mask>", 0.0)]
    # transformers 5 takes the vocabulary itself; ``vocab_file=`` would silently give 5 tokens.
    tokenizer = XLMRobertaTokenizer(vocab=vocab, model_max_length=77)
    assert len(tokenizer) == len(vocab) > 100, len(tokenizer)
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    return tokenizer


def build_clip_tokenizer(vocab_size: int = 400):
    """A byte-level BPE with CLIP's ``</w>`` suffix and special tokens, wrapped in ``CLIPTokenizer``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>",
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([p.lower() for p in CORPUS], trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = CLIPTokenizer(vocab=model["vocab"], merges=merges, model_max_length=77)
    assert len(tokenizer) == len(model["vocab"]) > 300, len(tokenizer)
    return tokenizer


def image_processor():
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE,
                                                                                "width": IMAGE_SIZE})


def _spread(model):
    """Default init gives near-identical embeddings (scores all ~1/n, a fidelity check without teeth): add noise."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name != "logit_scale":
                parameter.add_(torch.randn_like(parameter) * 0.2)
    return model


def build_tiny_altclip(path: Path, seed: int = 0) -> Path:
    """Save a tiny random ``AltCLIPModel`` with an ``AltCLIPProcessor`` at ``path``."""
    import torch
    from transformers import AltCLIPConfig, AltCLIPModel, AltCLIPProcessor

    tokenizer = build_xlmr_tokenizer()
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=80, project_dim=24)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=IMAGE_SIZE, patch_size=8, projection_dim=16)
    config = AltCLIPConfig(text_config=text, vision_config=vision, projection_dim=16, logit_scale_init_value=4.6)
    torch.manual_seed(seed)
    _spread(AltCLIPModel(config)).eval().save_pretrained(path)
    AltCLIPProcessor(image_processor=image_processor(), tokenizer=tokenizer).save_pretrained(path)
    return path


def build_tiny_clip(path: Path, seed: int = 1) -> Path:
    """Save a tiny random ``CLIPModel`` with a ``CLIPProcessor`` at ``path``."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor

    tokenizer = build_clip_tokenizer()
    ids = tokenizer.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"])
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=77, bos_token_id=ids[0], eos_token_id=ids[1],
                pad_token_id=ids[1], projection_dim=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=IMAGE_SIZE, patch_size=8, projection_dim=16)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16, logit_scale_init_value=4.6)
    torch.manual_seed(seed)
    _spread(CLIPModel(config)).eval().save_pretrained(path)
    CLIPProcessor(image_processor=image_processor(), tokenizer=tokenizer).save_pretrained(path)
    return path
