"""Tiny random Stable Audio Open and Stable Audio 3 pipelines built offline, saved with ``save_pretrained``.

Same component classes as ``stabilityai/stable-audio-open-1.0`` (T5 encoder, projection model, DiT, Oobleck
VAE, cosine DPM-Solver scheduler) and as a diffusers-layout Stable Audio 3 (T5Gemma encoder, duration
embedder, SA3 DiT, SAME autoencoder, flow-matching Euler with ping-pong re-noise), at toy sizes, 44.1 kHz
stereo like the real ones. Tokenizers are trained here (Unigram for T5, BPE for Gemma).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tiny_audioldm2 import EXTRA_TEXT, build_t5_tokenizer  # noqa: E402
from tiny_models import training_corpus  # noqa: E402

SAO_HOP = 64  # Oobleck downsampling 2*4*8
SAO_SAMPLE_SIZE = 700  # latent frames: 700 * 64 / 44100 = 1.016 s, the tiny model's maximum
SAO_MAX_SECONDS = SAO_SAMPLE_SIZE * SAO_HOP / 44100
SA3_MAX_SECONDS = 2.0  # the tiny duration embedder's max_val
VAE_GAIN = 40.0  # random decoders are nearly silent: scale to a level CLAP can rank and PCM can hold


def build_tiny_stable_audio_open(path: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = build_t5_tokenizer(path.parent / f"_{path.name}_tok")
    tokenizer.model_max_length = 16
    torch.manual_seed(seed)
    t5 = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=48, d_kv=8, num_layers=1, num_heads=4,
                                 feed_forward_proj="gated-gelu", decoder_start_token_id=0))
    projection = StableAudioProjectionModel(text_encoder_dim=32, conditioning_dim=16, min_value=0, max_value=512)
    transformer = StableAudioDiTModel(sample_size=SAO_SAMPLE_SIZE, in_channels=4, num_layers=1, attention_head_dim=8,
                                      num_attention_heads=2, num_key_value_attention_heads=1, out_channels=4,
                                      cross_attention_dim=16, time_proj_dim=8, global_states_input_dim=32,
                                      cross_attention_input_dim=16)
    vae = AutoencoderOobleck(encoder_hidden_size=8, downsampling_ratios=[2, 4, 8], channel_multiples=[1, 2, 2],
                             decoder_channels=8, decoder_input_channels=4, audio_channels=2, sampling_rate=44100)
    with torch.no_grad():
        vae.decoder.conv2.weight.mul_(VAE_GAIN)
    scheduler = CosineDPMSolverMultistepScheduler(sigma_min=0.3, sigma_max=500, solver_order=2,
                                                  prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")
    pipe = StableAudioPipeline(vae=vae.eval(), text_encoder=t5.eval(), projection_model=projection.eval(),
                               tokenizer=tokenizer, transformer=transformer.eval(), scheduler=scheduler)
    pipe.save_pretrained(path)
    return path


def build_gemma_tokenizer(path: Path, vocab_size: int = 300):
    """A BPE tokenizer trained offline, wrapped in transformers' ``GemmaTokenizer``."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(training_corpus() + EXTRA_TEXT,
                            trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials))
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = GemmaTokenizer(vocab=model["vocab"], merges=merges, model_max_length=32)
    assert len(tokenizer) >= 100, len(tokenizer)
    return tokenizer


def tiny_t5gemma(vocab_size: int):
    """A random T5Gemma encoder with 16-dim states (the torch seed decides its weights)."""
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    module = dict(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=1, head_dim=8, query_pre_attn_scalar=8,
                  sliding_window=16, max_position_embeddings=64)
    config = T5GemmaConfig(encoder=T5GemmaModuleConfig(**module).to_dict(),
                           decoder=T5GemmaModuleConfig(**module).to_dict(), vocab_size=vocab_size,
                           is_encoder_decoder=False)
    return T5GemmaEncoderModel(config)


def build_tiny_stable_audio_3(path: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import (
        AutoencoderSAME,
        FlowMatchEulerDiscreteScheduler,
        StableAudio3DiTModel,
        StableAudio3Pipeline,
    )
    from diffusers.pipelines.stable_audio_3 import StableAudio3DurationEmbedder

    tokenizer = build_gemma_tokenizer(path.parent / f"_{path.name}_tok")
    torch.manual_seed(seed)
    encoder = tiny_t5gemma(len(tokenizer))
    vae = AutoencoderSAME(audio_channels=2, patch_size=16, encoder_channels=8, encoder_c_mults=[2],
                          encoder_strides=[4], encoder_transformer_depths=[1], latent_dim=8,
                          use_differential_attention=True, dim_heads=8, ff_mult=2, sliding_window=1,
                          sampling_rate=44100)
    transformer = StableAudio3DiTModel(io_channels=8, patch_size=1, embed_dim=16, depth=1, num_heads=2,
                                       cond_token_dim=16, global_cond_dim=16, local_add_cond_dim=9,
                                       timestep_features_dim=8, ff_mult=2.0, num_memory_tokens=2)
    with torch.no_grad():  # zero-initialised layers (residual outputs, local conditioning) would hide the inputs
        for model in (vae, transformer):
            for param in model.parameters():
                if not param.any():
                    param.normal_(0.0, 0.2)
    durations = StableAudio3DurationEmbedder(output_dim=16, fourier_dim=8, min_val=0.0, max_val=SA3_MAX_SECONDS)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, stochastic_sampling=True)
    pipe = StableAudio3Pipeline(vae=vae.eval(), text_encoder=encoder.eval(), tokenizer=tokenizer,
                                duration_embedder=durations.eval(), transformer=transformer.eval(),
                                scheduler=scheduler)
    pipe.save_pretrained(path)
    return path
