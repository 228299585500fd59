"""CPU speed options keep the numbers: bfloat16 and int8 embeddings stay close to float32's;
``clap --help`` imports no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from audio_fixtures import noise, speechlike, tone

# Measured on the tiny random model: min cosine 0.9996 (bf16) and 0.998 (int8) for audio, 0.998 for
# text; the full-size figures are in benchmarks/README.md. The bound is the one users are promised.
MIN_COSINE = 0.99
TEXTS = ["This is a sound of dog barking.", "This is a sound of rain on roof.", "piano music", "people talking"]


def clips() -> list[np.ndarray]:
    return [tone(3.0, 48000, 440.0), noise(2.0, 48000, seed=3), speechlike(12.0, 48000)]


@pytest.fixture(scope="module")
def float32_vectors(loaded_clap):
    return embed(loaded_clap)


def embed(model) -> tuple[np.ndarray, np.ndarray]:
    from clapcli.core.embed import embed_media
    from clapcli.core.pipeline import ArrayInput
    from clapcli.core.text import encode_texts

    sources = [ArrayInput(f"clip{i}", c, 48000) for i, c in enumerate(clips())]
    audio = np.stack([e.vector for e in embed_media(model, sources)])
    return audio, encode_texts(model, TEXTS)


@pytest.mark.parametrize("dtype, quantize", [("bfloat16", None), ("float32", "int8")])
def test_cpu_options_stay_close_to_float32(tiny_clap, float32_vectors, dtype: str, quantize: str | None) -> None:
    import torch

    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(str(tiny_clap), device="cpu", dtype=dtype, quantize=quantize)
    if dtype == "bfloat16":
        assert next(model.network.parameters()).dtype == torch.bfloat16
    else:
        assert any("quantized" in type(m).__module__ for m in model.network.modules())
    for ours, reference in zip(embed(model), float32_vectors):
        cosine = np.sum(ours * reference, axis=1)  # both L2-normalized
        assert cosine.min() >= MIN_COSINE, cosine


def test_help_imports_no_torch() -> None:
    code = (
        "import sys; sys.argv = ['clap', '--help']\n"
        "from clapcli.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "sys.argv = ['clap', 'classify', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'librosa') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY []"
