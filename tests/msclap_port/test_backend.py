"""MSClapBackend through the model-loading layer, and the one-time conversion of original checkpoints."""

from __future__ import annotations

import shutil

import msclap_reference as reference
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from msclap_reference import SAMPLE_TEXTS, requires_reference

from clapcli.errors import ModelLoadError, UsageError
from clapcli.models.hub import ModelRef

pytestmark = requires_reference


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def pth_with_tokenizer(msclap_original, gpt2_tokenizer_dir, tmp_path_factory):
    """An original .pth with a GPT-2 tokenizer saved beside it (the offline route)."""
    folder = tmp_path_factory.mktemp("release")
    shutil.copytree(gpt2_tokenizer_dir, folder, dirs_exist_ok=True)
    shutil.copy(msclap_original[1], folder / "CLAP_weights_2023.pth")
    return folder / "CLAP_weights_2023.pth"


def test_local_pth_is_converted_once(pth_with_tokenizer, home) -> None:
    from clapcli.models.conversion.on_first_use import ensure_converted

    ref = ModelRef("w.pth", str(pth_with_tokenizer), True)
    first = ensure_converted(ref)
    assert first.is_local and first.location.startswith(str(home / "converted"))
    config = home / "converted" / first.location.rsplit("/", 1)[-1] / "config.json"
    stamp = config.stat().st_mtime_ns
    assert ensure_converted(ref) == first
    assert config.stat().st_mtime_ns == stamp  # not converted again


def test_normal_refs_pass_through_without_network(tmp_path, monkeypatch) -> None:
    import huggingface_hub

    from clapcli.models.conversion.on_first_use import ensure_converted

    def no_network(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    (tmp_path / "config.json").write_text("{}")
    for ref in (ModelRef("x", "laion/clap-htsat-unfused", False), ModelRef("d", str(tmp_path), True)):
        assert ensure_converted(ref) is ref


def test_hub_repo_offline_fails_in_one_line(home) -> None:
    from clapcli.models.conversion.on_first_use import ensure_converted

    with pytest.raises(ModelLoadError) as error:
        ensure_converted(ModelRef("msclap-2023", "microsoft/msclap", False))
    assert "\n" not in str(error.value) and "microsoft/msclap" in str(error.value)


def test_backend_matches_original(msclap_original, pth_with_tokenizer, home) -> None:
    from clapcli.models.loading import load_embedding_model
    from clapcli.models.msclap.backend import MSClapBackend

    original = msclap_original[0]
    model = load_embedding_model(str(pth_with_tokenizer), device="cpu")
    assert isinstance(model, MSClapBackend)
    assert (model.sample_rate, model.window_seconds, model.embedding_dim) == (44100, 7.0, 48)
    assert model.logit_scale == pytest.approx(original.logit_scale.exp().item(), rel=1e-6)

    tokens = reference.msclap_tokenize(model.processor.tokenizer, SAMPLE_TEXTS)
    expected_text = reference.msclap_text_embeddings(original, tokens)
    assert (model.encode_text(SAMPLE_TEXTS) - expected_text).abs().max().item() <= 1e-4

    rng = np.random.default_rng(7)
    clip = (0.1 * rng.standard_normal(7 * 44100)).astype(np.float32)
    long_clip = (0.1 * rng.standard_normal(16 * 44100)).astype(np.float32)
    got = model.encode_prepared([model.prepare(clip), model.prepare(long_clip)])
    expected = reference.msclap_audio_embeddings(original, torch.from_numpy(clip)[None])[0]
    assert F.cosine_similarity(got[0], expected, dim=0).item() >= 0.9999
    assert (got[0] - expected).abs().max().item() <= 1e-4
    # Long audio, default "mean": the average of evenly spaced 7 s windows (3 of them here).
    item = model.prepare(long_clip)
    assert model.items_cost(item) == 3
    size = 7 * 44100
    starts = [0, (len(long_clip) - size) // 2, len(long_clip) - size]
    windows = torch.from_numpy(np.stack([long_clip[s:s + size] for s in starts]))
    mean = reference.msclap_audio_embeddings(original, windows).mean(0)
    assert (got[1] - mean).abs().max().item() <= 1e-4


def test_fusion_strategy_is_refused(pth_with_tokenizer, home) -> None:
    from clapcli.models.loading import load_embedding_model

    with pytest.raises(UsageError):
        load_embedding_model(str(pth_with_tokenizer), device="cpu", long_audio="fusion")


def test_prepare_equals_the_processor_and_runs_no_torch(pth_with_tokenizer, home) -> None:
    """The decode threads' log-mel (clapcli's, numpy only) gives the HF-style processor's features."""
    from torch_calls import torch_calls_in

    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(str(pth_with_tokenizer), device="cpu")
    rng = np.random.default_rng(11)
    for seconds in (3.0, 7.0):  # repeat-padded, exactly one window
        clip = (0.1 * rng.standard_normal(int(seconds * 44100))).astype(np.float32)
        calls, item = torch_calls_in(model.prepare, clip)
        assert calls == []
        expected = model.processor.feature_extractor(clip, sampling_rate=44100)["input_features"]
        assert item.features.shape == expected.shape
        assert np.abs(item.features - expected).max() <= 1e-5
