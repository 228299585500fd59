"""``clap generate`` printed transformers' ``past_key_values`` FutureWarning on every run (issue 23 item
14): our language-model loop passes its key/value cache under the name the installed GPT-2 takes."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from clapcli.core.generate import GenerationSettings

from .conftest import SECONDS, STEPS


def test_the_language_model_loop_warns_nothing(generator):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        generator.generate("a dog barking", GenerationSettings(steps=STEPS, seconds=SECONDS, seed=1))
    assert [str(w.message) for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))
            and "transformers" in w.filename] == []


def test_clap_generate_prints_no_future_warning(tiny_audioldm2: Path, tmp_path: Path):
    out = tmp_path / "dog.wav"
    result = subprocess.run([sys.executable, "-m", "clapcli", "generate", "a dog barking", "-m", tiny_audioldm2,
                             "-o", out, "--steps", str(STEPS), "--seconds", str(SECONDS), "--seed", "1"],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "FutureWarning" not in result.stderr and "past_key_values" not in result.stderr, result.stderr
    assert out.is_file()
