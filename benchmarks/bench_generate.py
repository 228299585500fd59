"""clap generate vs diffusers' AudioLDM2Pipeline on a full-size random AudioLDM 2 (cvssp/audioldm2 shapes).

Both sides share the same in-memory components (~1.1B parameters, random weights: same cost as the
released checkpoint, no download). diffusers cannot drive ``GPT2Model`` on current transformers, so its
side gets a ``GPT2LMHeadModel`` whose ``transformer`` *is* our language model (same weights, no copy).

Measured, for 10 s of audio with guidance (the default):
  * per-step seconds and fixed cost (text encoders + GPT-2 + VAE + vocoder) of each side, from two runs
    with different step counts (fixed = T(a) - a * per_step): the overhead target is <= 5 %;
  * end to end: clapcli at its defaults (DPM-Solver++, 20 steps) measured, against the pipeline's
    default (DDIM, 200 steps) extrapolated from the pipeline's own per-step and fixed cost.

    python benchmarks/bench_generate.py                # full size: ~5 GB RAM, a few minutes on 2 cores
    python benchmarks/bench_generate.py --tiny         # smoke test of the script
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "generate"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import THREADS, report_ratio  # noqa: E402

PROMPT = "a dog barking in the rain, distant thunder"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny random pipeline (smoke test)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--steps", type=int, nargs=2, default=(2, 5), metavar=("A", "B"),
                   help="the two step counts used to split per-step and fixed cost")
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds per side (medians reported)")
    p.add_argument("--threads", type=int, default=THREADS,
                   help="torch threads for both sides (1 is steadier when other processes load the cores)")
    p.add_argument("--skip-default", action="store_true", help="do not run clapcli's 20-step default end to end")
    return p.parse_args()


def full_components() -> dict:
    """cvssp/audioldm2 architecture with random weights (configs written out by hand: no hub here)."""
    import torch
    from diffusers import AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from tiny_audioldm2 import build_t5_tokenizer
    from tiny_models import build_roberta_tokenizer
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    work = ROOT / "benchmarks" / "_work" / "audioldm2-tokenizers"
    # Toy vocabularies (ids fit the full-size embeddings); the CLAP side pads to 77 tokens either way.
    tokenizer = build_roberta_tokenizer(work / "roberta")
    tokenizer_2 = build_t5_tokenizer(work / "t5")
    text = ClapTextConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                          intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, projection_dim=512,
                          pad_token_id=1, bos_token_id=0, eos_token_id=2)
    audio = ClapAudioConfig(depths=[2, 2, 6, 2], num_attention_heads=[4, 8, 16, 32], patch_embeds_hidden_size=96,
                            hidden_size=768, window_size=8, spec_size=256, num_mel_bins=64, projection_dim=512,
                            enable_fusion=False)
    clap = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512))
    t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=1024, d_ff=2816, d_kv=64, num_layers=24, num_heads=16,
                                 feed_forward_proj="gated-gelu", tie_word_embeddings=False))  # flan-t5-large encoder
    lm_head = GPT2LMHeadModel(GPT2Config(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257,
                                         max_new_tokens=8))  # gpt2 (base)
    projection = AudioLDM2ProjectionModel(text_encoder_dim=512, text_encoder_1_dim=1024, langauge_model_dim=768)
    unet = AudioLDM2UNet2DConditionModel(
        sample_size=256, in_channels=8, out_channels=8, block_out_channels=(128, 256, 384, 640), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 768, 1024],) * 4, attention_head_dim=8, transformer_layers_per_block=1,
    )
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=8, block_out_channels=(128, 256, 512),
                        layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, sample_size=1024, scaling_factor=0.4)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=64, sampling_rate=16000, upsample_initial_channel=1024, upsample_rates=[5, 4, 2, 2, 2],
        upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
        resblock_dilation_sizes=[[1, 3, 5]] * 3, normalize_before=False))
    scheduler = DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    models = dict(text_encoder=clap, text_encoder_2=t5, projection_model=projection, unet=unet, vae=vae,
                  vocoder=vocoder)
    for model in [*models.values(), lm_head]:
        model.eval()
    return dict(models, tokenizer=tokenizer, tokenizer_2=tokenizer_2, scheduler=scheduler, lm_head=lm_head,
                feature_extractor=ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad"))


def tiny_components() -> dict:
    from tiny_audioldm2 import build_components
    from transformers import GPT2LMHeadModel

    components = build_components(ROOT / "benchmarks" / "_work" / "tiny-audioldm2-tok")
    gpt2 = components.pop("language_model")
    lm_head = GPT2LMHeadModel(gpt2.config).eval()
    lm_head.transformer = gpt2
    return dict(components, lm_head=lm_head)


def build_sides(components: dict):
    """(clapcli Generator, diffusers pipeline) over the very same modules."""
    from diffusers import AudioLDM2Pipeline

    from clapcli.core.generate.generator import Generator
    from clapcli.models.audioldm2 import pipeline_class

    lm_head = components.pop("lm_head")
    ours = pipeline_class()(**components, language_model=lm_head.transformer)
    theirs = AudioLDM2Pipeline(**components, language_model=lm_head)
    for pipe in (ours, theirs):
        pipe.set_progress_bar_config(disable=True)
    return Generator(ours, "random cvssp/audioldm2 architecture"), theirs


def run_ours(generator, steps: int, seconds: float, scheduler: str = "ddim") -> float:
    from clapcli.core.generate import GenerationSettings

    settings = GenerationSettings(steps=steps, seconds=seconds, seed=0, scheduler=scheduler)
    start = time.perf_counter()
    generator.generate([PROMPT], settings)
    return time.perf_counter() - start


def run_theirs(pipe, steps: int, seconds: float) -> float:
    import torch

    start = time.perf_counter()
    pipe(PROMPT, num_inference_steps=steps, audio_length_in_s=seconds, generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def split_cost(times: dict[int, float], a: int, b: int) -> tuple[float, float]:
    per_step = (times[b] - times[a]) / (b - a)
    return per_step, times[a] - a * per_step


def main() -> None:
    import torch

    args = parse_args()
    torch.set_num_threads(args.threads)
    from clapcli.core.generate import DEFAULT_SCHEDULER, DEFAULT_STEPS, PIPELINE_DEFAULT_STEPS

    start = time.perf_counter()
    components = tiny_components() if args.tiny else full_components()
    params = sum(p.numel() for k, m in components.items() if isinstance(m, torch.nn.Module) for p in m.parameters())
    generator, pipe = build_sides(components)
    build_seconds = time.perf_counter() - start
    gc.collect()
    a, b = args.steps
    print(f"== clap generate vs diffusers AudioLDM2Pipeline ({'tiny' if args.tiny else 'full-size random'} "
          f"cvssp/audioldm2 architecture, {params / 1e9:.2f}B params, {args.seconds:g} s audio, guidance 3.5) ==")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, threads {args.threads}, "
          f"load avg {os.getloadavg()[0]:.2f}; components built in {build_seconds:.0f} s")
    run_ours(generator, 1, args.seconds)  # warm-up both sides (allocator, lazy inits)
    run_theirs(pipe, 1, args.seconds)
    samples: dict[str, dict[int, list[float]]] = {"clapcli": {a: [], b: []}, "diffusers": {a: [], b: []}}
    for _ in range(args.repeats):
        for steps in (a, b):
            samples["clapcli"][steps].append(run_ours(generator, steps, args.seconds))
            samples["diffusers"][steps].append(run_theirs(pipe, steps, args.seconds))
    costs = {}
    for side, runs in samples.items():
        medians = {steps: statistics.median(values) for steps, values in runs.items()}
        costs[side] = split_cost(medians, a, b)
        print(f"time  {side:<10} {a} steps {medians[a]:7.2f} s   {b} steps {medians[b]:7.2f} s   -> "
              f"{costs[side][0]:.3f} s/step + {costs[side][1]:.2f} s fixed   (runs: {runs})")
    (ours_step, ours_fixed), (their_step, their_fixed) = costs["clapcli"], costs["diffusers"]
    print(f"{'':16}{'clapcli':>12}{'diffusers':>12}{'ratio':>8}")
    print(f"{'s per step':16}{ours_step:12.3f}{their_step:12.3f}{ours_step / their_step:8.3f}")
    print(f"{'fixed s':16}{ours_fixed:12.2f}{their_fixed:12.2f}{ours_fixed / their_fixed:8.3f}")
    report_ratio("per-step clapcli/diffusers", ours_step / their_step, "<= 1.05", 0 < ours_step / their_step <= 1.05)
    report_ratio("fixed clapcli/diffusers", ours_fixed / their_fixed, "<= 1.05", 0 < ours_fixed / their_fixed <= 1.05)
    pipeline_default = their_fixed + PIPELINE_DEFAULT_STEPS * their_step
    if args.skip_default:
        ours_default, how = ours_fixed + DEFAULT_STEPS * ours_step, "extrapolated"
    else:
        ours_default, how = run_ours(generator, DEFAULT_STEPS, args.seconds, DEFAULT_SCHEDULER), "measured"
    print(f"end to end  clapcli default ({DEFAULT_SCHEDULER}, {DEFAULT_STEPS} steps): {ours_default:7.1f} s ({how})")
    print(f"end to end  pipeline default (ddim, {PIPELINE_DEFAULT_STEPS} steps): {pipeline_default:7.1f} s "
          f"(extrapolated: {their_fixed:.2f} s fixed + {PIPELINE_DEFAULT_STEPS} x {their_step:.3f} s/step)")
    speedup = pipeline_default / ours_default
    report_ratio("end-to-end pipeline-default/ours", speedup, ">= 5", speedup >= 5)


if __name__ == "__main__":
    main()
