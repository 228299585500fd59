"""Fixtures for clap generate: one tiny AudioLDM 2 checkpoint per run, loaded once.

Everything here runs with one torch thread: on 2 shared cores, tiny models spend most of their time
synchronising threads (measured 20x slower with 2 threads under load).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_audioldm2 import build_tiny_audioldm2  # noqa: E402

SECONDS = 0.5  # 50 mel frames, 8000 samples: cheap but long enough to rank and resample
STEPS = 2


@pytest.fixture(scope="package", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="package")
def tiny_audioldm2(tmp_path_factory: pytest.TempPathFactory, one_thread) -> Path:
    """The tiny pipeline saved with save_pretrained (tokenizers trained offline, models in eval mode)."""
    return build_tiny_audioldm2(tmp_path_factory.mktemp("generate") / "tiny-audioldm2")


@pytest.fixture(scope="package")
def generator(tiny_audioldm2: Path):
    from clapcli.core.generate import open_generator

    return open_generator(str(tiny_audioldm2), device="cpu")


@pytest.fixture(scope="package")
def reference(generator):
    """diffusers' own pipeline on the same components, with a GPT2LMHeadModel holding the same weights."""
    from diffusers import AudioLDM2Pipeline
    from transformers import GPT2LMHeadModel

    gpt2 = generator.pipe.language_model
    lm_head = GPT2LMHeadModel(gpt2.config).eval()
    missing = lm_head.transformer.load_state_dict(gpt2.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys
    components = dict(generator.pipe.components, language_model=lm_head)
    pipe = AudioLDM2Pipeline(**components)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture()
def shared_generator(generator, tiny_audioldm2: Path, monkeypatch):
    """CLI runs reuse the loaded tiny generator (loading is tested separately); records each load call."""
    import clapcli.core.generate as api

    real = api.open_generator
    calls: list[tuple] = []

    def fake(name=None, device="auto", dtype="auto", cpu_offload=False):
        calls.append((name, device, dtype, cpu_offload))
        if name == "tiny" and not cpu_offload:
            return generator
        return real(name, device, dtype, cpu_offload)

    monkeypatch.setattr(api, "open_generator", fake)
    return calls


@pytest.fixture()
def exploding_prompts(generator, monkeypatch) -> None:
    """Make the text encoders fail ("boom") on any batch holding a prompt containing "explode"."""
    real = generator.pipe.encode_prompt

    def encode(prompts, *args, **kwargs):
        if any("explode" in p for p in prompts):
            raise RuntimeError("boom")
        return real(prompts, *args, **kwargs)

    monkeypatch.setattr(generator.pipe, "encode_prompt", encode)


@pytest.fixture()
def run():
    """``clap`` in-process: run(args) -> result with exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from clapcli.cli import app

    runner = CliRunner()

    def invoke(args: list, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="package")
def tiny_tts(tmp_path_factory: pytest.TempPathFactory, one_thread) -> Path:
    from tiny_audioldm2 import build_tiny_tts

    return build_tiny_tts(tmp_path_factory.mktemp("generate") / "tiny-tts")


@pytest.fixture(scope="package")
def tiny_sao(tmp_path_factory: pytest.TempPathFactory, one_thread) -> Path:
    from tiny_stable_audio import build_tiny_stable_audio_open

    return build_tiny_stable_audio_open(tmp_path_factory.mktemp("generate") / "tiny-sao")


@pytest.fixture(scope="package")
def tiny_sa3(tmp_path_factory: pytest.TempPathFactory, one_thread) -> Path:
    from tiny_stable_audio import build_tiny_stable_audio_3

    return build_tiny_stable_audio_3(tmp_path_factory.mktemp("generate") / "tiny-sa3")
