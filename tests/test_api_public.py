"""``import clapcli`` is the Python API: the documented names, loaded on first use (importing the package
stays light), and results that line up with the inputs (a failure stands in its input's place)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import clapcli
from clapcli import api
from clapcli.errors import InputError, UsageError
from clapcli.results import Classification, Embedding, FailedInput


def test_the_api_is_importable_from_the_package() -> None:
    assert set(api.__all__) <= set(clapcli.__all__)
    for name in api.__all__:
        assert getattr(clapcli, name) is getattr(api, name)
    with pytest.raises(AttributeError):
        clapcli.no_such_thing  # noqa: B018


def test_importing_the_package_imports_neither_torch_nor_the_api() -> None:
    code = "import sys, clapcli; print(sorted({'torch', 'clapcli.api'} & set(sys.modules)), clapcli.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == "[]"


def _clips(rate: int) -> list[np.ndarray]:
    tone = (0.1 * np.sin(np.arange(2 * rate) / 7)).astype(np.float32)
    return [tone, np.zeros(0, np.float32), tone[::-1].copy()]  # the middle one holds no samples


def test_failures_keep_their_place(loaded_clap) -> None:
    rate = loaded_clap.sample_rate
    embedded = clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, failures="keep")
    assert [type(r) for r in embedded] == [Embedding, FailedInput, Embedding]
    assert [r.source for r in embedded] == ["<input 0>", "<input 1>", "<input 2>"]
    classified = clapcli.classify(loaded_clap, _clips(rate), ["a", "b"], sample_rate=rate, failures="keep")
    assert [type(r) for r in classified] == [Classification, FailedInput, Classification]
    with pytest.raises(InputError, match="<input 1>"):
        clapcli.classify(loaded_clap, _clips(rate), ["a", "b"], sample_rate=rate)
    with pytest.raises(UsageError, match="failures 'drop'"):
        clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, failures="drop")


def test_skip_failures_still_drops_but_says_why(loaded_clap) -> None:
    rate = loaded_clap.sample_rate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = clapcli.embed_audio(loaded_clap, _clips(rate), sample_rate=rate, skip_failures=True)
    assert len(kept) == 2
    assert any(issubclass(w.category, DeprecationWarning) and "failures='keep'" in str(w.message) for w in caught)
