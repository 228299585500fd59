"""clap generate vs diffusers' StableAudio3Pipeline called by hand, on a full-size random Stable Audio 3 small.

The full-size pipeline has the shapes of the Stable Audio 3 small models as far as they could be read
offline (their model_config.json was not available here): a DiT of 1024 width, 16 blocks, 16 heads
(437M parameters; the models are published as ~433M), the SAME autoencoder at diffusers' defaults
(107M, 4096x downsampling, 44.1 kHz stereo), a T5Gemma b-b encoder (282M) with a toy tokenizer (text
cost does not depend on the vocabulary). Random weights: the same cost as the real ones, no download.

Both sides share the same in-memory components. Measured for ``--seconds`` of audio at the distilled
defaults (8 steps, guidance off): seconds per generated second, fp32 and bf16 (the CPU's native bf16 where
it has it), clapcli's overhead over the pipeline, and the run's peak RSS. Full size runs in a child process
under an address-space limit (``--memory-limit-gb``), never against the machine's memory.

    python benchmarks/bench_generate_stable_audio.py            # full size, ~4 GB RAM
    python benchmarks/bench_generate_stable_audio.py --tiny     # smoke test of the script
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
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
    p.add_argument("--seconds", type=float, default=None, help="length generated (default 10; tiny: 1)")
    p.add_argument("--steps", type=int, default=8, help="denoising steps (the distilled default)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds per side (medians reported)")
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--memory-limit-gb", type=float, default=12.0, help="address-space limit of the full-size child")
    p.add_argument("--work", type=Path, default=None, help="unused (the pipeline is built in memory)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.seconds = args.seconds or (1.0 if args.tiny else 10.0)
    return args


def full_pipeline():
    import torch
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel, StableAudio3Pipeline
    from diffusers.pipelines.stable_audio_3 import StableAudio3DurationEmbedder
    from tiny_stable_audio import build_gemma_tokenizer
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    tokenizer = build_gemma_tokenizer(Path("/nonexistent"))  # not saved
    tokenizer.model_max_length = 256
    torch.manual_seed(0)
    module = dict(vocab_size=256000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                  num_attention_heads=12, num_key_value_heads=12, head_dim=64, query_pre_attn_scalar=64)
    encoder = T5GemmaEncoderModel(T5GemmaConfig(encoder=T5GemmaModuleConfig(**module).to_dict(),
                                                decoder=T5GemmaModuleConfig(**module).to_dict(),
                                                is_encoder_decoder=False, vocab_size=256000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = AutoencoderSAME()
    transformer = StableAudio3DiTModel(io_channels=256, embed_dim=1024, depth=16, num_heads=16)
    durations = StableAudio3DurationEmbedder(output_dim=768, max_val=120.0)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, stochastic_sampling=True)
    pipe = StableAudio3Pipeline(vae=vae.eval(), text_encoder=encoder.eval(), tokenizer=tokenizer,
                                duration_embedder=durations.eval(), transformer=transformer.eval(),
                                scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_pipeline(work: Path):
    from diffusers import StableAudio3Pipeline
    from tiny_stable_audio import build_tiny_stable_audio_3

    path = work / "tiny-sa3"
    if not (path / "model_index.json").exists():
        build_tiny_stable_audio_3(path)
    pipe = StableAudio3Pipeline.from_pretrained(path)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def measure(pipe, args: argparse.Namespace, dtype_name: str) -> tuple[float, float]:
    """(pipeline by hand, clap generate's generator) median seconds for one clip, interleaved."""
    import torch

    from clapcli.core.generate import GenerationSettings
    from clapcli.core.generate.stable_audio import StableAudioGenerator
    from clapcli.models.stable_audio import StableAudioPipe

    pipe.to(getattr(torch, dtype_name))
    ours = StableAudioGenerator(StableAudioPipe(pipe, "bench", "stable-audio-3"))
    settings = GenerationSettings(seconds=args.seconds, steps=args.steps, seed=0)

    def by_hand() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe(PROMPT, duration=args.seconds, num_inference_steps=args.steps,
                 generator=torch.Generator().manual_seed(0))

    def clapcli() -> None:
        ours.generate(PROMPT, settings)

    clapcli()  # warm-up (first-call allocations, lazy imports)
    times: dict[str, list[float]] = {"pipeline": [], "clapcli": []}
    for _ in range(args.repeats):
        for name, run in (("pipeline", by_hand), ("clapcli", clapcli)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["pipeline"]), statistics.median(times["clapcli"])


def run(args: argparse.Namespace) -> None:
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()  # its "keep in float32" notices on every cast
    torch.set_num_threads(args.threads)
    work = args.work or ROOT / "benchmarks" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    pipe = tiny_pipeline(work) if args.tiny else full_pipeline()
    params = sum(p.numel() for p in pipe.transformer.parameters()) / 1e6
    print(f"# Stable Audio 3 ({'tiny' if args.tiny else 'full-size random, small shapes'}): DiT {params:.0f}M "
          f"parameters; {args.seconds:g} s, {args.steps} steps, guidance off; {args.threads} torch threads; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (loaded machine)")
    results = {}
    for dtype_name in args.dtypes.split(","):
        by_hand, ours = measure(pipe, args, dtype_name)
        results[dtype_name] = ours
        print(f"{dtype_name:>9}: pipeline by hand {by_hand:7.2f} s, clap generate {ours:7.2f} s; "
              f"{ours / args.seconds:.3f} s per generated second")
        report_ratio(f"sa3_{dtype_name}_overhead", ours / by_hand, "<= 1.05", ours / by_hand <= 1.05)
        report_ratio(f"sa3_{dtype_name}_s_per_audio_s", ours / args.seconds, "< 1 (faster than real time)",
                     ours < args.seconds)
    if "float32" in results and "bfloat16" in results:
        speedup = results["float32"] / results["bfloat16"]
        report_ratio("sa3_bfloat16_speedup", speedup, ">= 1", speedup >= 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB")


def main() -> None:
    limited_main(__file__, parse_args(), run)


def limited_main(script: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], None]) -> None:
    """``body(args)`` here for --tiny (and in the child); full size in a child under the memory limit."""
    if args.tiny or args.child:
        body(args)
        return
    rerun_in_limited_child(script, args.memory_limit_gb)


def rerun_in_limited_child(script: str, memory_limit_gb: float) -> None:
    """Run ``script --child ARGS`` under an address-space limit, report its peak RSS, exit with its status."""
    limit = int(memory_limit_gb * 2**30)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    command = [sys.executable, script, "--child", *sys.argv[1:]]
    child = subprocess.Popen(command, preexec_fn=limit_memory)  # noqa: PLW1509 - the limit is the point
    _, status, usage = os.wait4(child.pid, 0)
    print(f"peak RSS (child, ru_maxrss): {usage.ru_maxrss / 1024:.0f} MiB under a {memory_limit_gb:g} GB "
          "address-space limit")
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
