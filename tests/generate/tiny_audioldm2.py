"""A tiny random AudioLDM 2 pipeline built offline (docs/design.md §4), saved with ``save_pretrained``.

Same component classes as ``cvssp/audioldm2`` (CLAP text encoder + ranking model, T5 encoder,
projection model, GPT-2 language model, AudioLDM 2 UNet, VAE, HiFi-GAN vocoder) at toy sizes.
The vocoder upsamples by 160 at 16 kHz like the real one, so lengths and cuts match real runs.
Tokenizers are trained here: byte-level BPE for RoBERTa (CLAP), Unigram for T5.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tiny_models import build_roberta_tokenizer, training_corpus  # noqa: E402

LM_DIM = 16
T5_DIM = 32
CLAP_DIM = 16
VOCODER_GAIN = 3e6
# More distinct words than the shared toy corpus, so the Unigram vocabulary passes the 100-token check.
EXTRA_TEXT = [
    "a calm female voice says hello world in a quiet room",
    "heavy rain falls in a dense forest while thunder rumbles far away",
    "an old wooden door creaks open and a kettle whistles in the kitchen",
    "children laughing and playing near a fountain on a sunny afternoon",
    "a jazz saxophone solo with brushed snare and upright bass",
    "low quality, distorted, muffled, noisy recording with hum and hiss",
    "the quick brown fox jumps over the lazy dog twelve times",
    "birds chirping at dawn, a rooster crows, cows moo on the farm",
] * 3


def build_t5_tokenizer(path: Path, vocab_size: int = 200):
    """A Unigram tokenizer trained offline, wrapped in transformers' ``T5Tokenizer``."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5Tokenizer

    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(training_corpus() + EXTRA_TEXT, vocab_size=vocab_size, unk_token="<unk>",
                                special_tokens=["<pad>", "</s>", "<unk>"])
    table = [(piece, float(score)) for piece, score in json.loads(unigram.to_str())["model"]["vocab"]]
    tokenizer = T5Tokenizer(vocab=table, extra_ids=0, model_max_length=64)
    path.mkdir(parents=True, exist_ok=True)
    assert len(tokenizer) >= 100, len(tokenizer)
    return tokenizer


def build_components(path: Path, seed: int = 0) -> dict:
    """All eleven pipeline components, models in eval mode."""
    import torch
    from diffusers import AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2Model,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    tokenizer = build_roberta_tokenizer(path / "_tok_roberta")
    tokenizer_2 = build_t5_tokenizer(path / "_tok_t5")
    torch.manual_seed(seed)
    text = ClapTextConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, max_position_embeddings=80, projection_dim=CLAP_DIM)
    audio = ClapAudioConfig(depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8,
                            hidden_size=64, projection_dim=CLAP_DIM, enable_fusion=False, window_size=8)
    clap = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=CLAP_DIM))
    t5 = T5EncoderModel(T5Config(vocab_size=len(tokenizer_2), d_model=T5_DIM, d_ff=48, d_kv=8, num_layers=1,
                                 num_heads=4, feed_forward_proj="gated-gelu", decoder_start_token_id=0))
    lm = GPT2Model(GPT2Config(n_embd=LM_DIM, n_head=2, n_layer=2, n_positions=128, vocab_size=64, max_new_tokens=8,
                              bos_token_id=0, eos_token_id=0))
    projection = AudioLDM2ProjectionModel(text_encoder_dim=CLAP_DIM, text_encoder_1_dim=T5_DIM,
                                          langauge_model_dim=LM_DIM)
    unet = AudioLDM2UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=([None, LM_DIM, T5_DIM],) * 2,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16),
                        layers_per_block=1, norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=8, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[8, 5, 4],
        upsample_kernel_sizes=[16, 10, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        normalize_before=False))
    with torch.no_grad():  # random HiFi-GAN output is ~1e-7: scale it to an audible level CLAP can rank
        vocoder.conv_post.weight.mul_(VOCODER_GAIN)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False)
    models = dict(text_encoder=clap, text_encoder_2=t5, language_model=lm, projection_model=projection,
                  unet=unet, vae=vae, vocoder=vocoder)
    for model in models.values():
        model.eval()
    return dict(models, tokenizer=tokenizer, tokenizer_2=tokenizer_2, scheduler=scheduler,
                feature_extractor=ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad"))


def build_tiny_audioldm2(path: Path, seed: int = 0) -> Path:
    """Save the tiny pipeline at ``path``; it loads with ``AudioLDM2Pipeline.from_pretrained``."""
    from diffusers import AudioLDM2Pipeline

    components = build_components(path.parent / f"_{path.name}_tok", seed)
    AudioLDM2Pipeline(**components).save_pretrained(path)
    return path


VITS_DIM = 16
VITS_MAX_LENGTH = 24
VITS_SYMBOLS = list(" abcdefghijklmnopqrstuvwxyz',.!?")


def build_tiny_tts(path: Path, seed: int = 0) -> Path:
    """A tiny text-to-speech AudioLDM 2 (``anhnct/audioldm2_gigaspeech`` layout): VITS text encoder.

    Its tokenizer maps characters (``phonemize=False``): the real ones phonemize with phonemizer."""
    import torch
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel
    from transformers import GPT2Config, GPT2Model, VitsConfig, VitsModel, VitsTokenizer

    components = build_components(path.parent / f"_{path.name}_tok", seed)
    vocab = path.parent / f"_{path.name}_vits_vocab.json"
    # The pipeline marks the end of the phonemes with id 182, so the vocabulary must reach it.
    symbols = {s: i for i, s in enumerate(["<pad>", *VITS_SYMBOLS])}
    symbols.update({f"<x{i}>": i for i in range(len(symbols), 200)})
    vocab.write_text(json.dumps(symbols))
    tokenizer_2 = VitsTokenizer(str(vocab), phonemize=False, add_blank=False, normalize=True, pad_token="<pad>",
                                unk_token="<pad>", model_max_length=VITS_MAX_LENGTH)
    torch.manual_seed(seed + 1)
    vits = VitsModel(VitsConfig(
        vocab_size=200, hidden_size=VITS_DIM, num_hidden_layers=1, num_attention_heads=2, ffn_dim=16, flow_size=8,
        spectrogram_bins=9, upsample_initial_channel=8, upsample_rates=[2], upsample_kernel_sizes=[4],
        resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]], duration_predictor_filter_channels=8,
        prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1, duration_predictor_num_flows=1,
        prior_encoder_num_flows=1, depth_separable_num_layers=1))
    components.update(
        text_encoder_2=vits.eval(), tokenizer_2=tokenizer_2,
        projection_model=AudioLDM2ProjectionModel(text_encoder_dim=CLAP_DIM, text_encoder_1_dim=VITS_DIM,
                                                  langauge_model_dim=LM_DIM, use_learned_position_embedding=True,
                                                  max_seq_length=VITS_MAX_LENGTH).eval(),
        language_model=GPT2Model(GPT2Config(n_embd=LM_DIM, n_head=2, n_layer=1, n_positions=600, vocab_size=64,
                                            max_new_tokens=8, bos_token_id=0, eos_token_id=0)).eval(),
        unet=AudioLDM2UNet2DConditionModel(
            sample_size=16, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
            norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=([None, LM_DIM, VITS_DIM],) * 2, attention_head_dim=2).eval(),
    )
    AudioLDM2Pipeline(**components).save_pretrained(path)
    return path
