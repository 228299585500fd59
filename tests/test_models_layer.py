"""The model-loading layer: device/dtype resolver, references, families and load errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from clapcli.errors import ModelLoadError, UsageError
from clapcli.models import device as device_module
from clapcli.models.device import resolve_device, resolve_dtype
from clapcli.models.hub import resolve_ref
from clapcli.models.loading import load_embedding_model
from clapcli.models.registry import EMBEDDING_ALIASES, family_from_config


def _fake_hardware(monkeypatch, cuda: int = 0, mps: bool = False) -> None:
    monkeypatch.setattr(device_module, "_cuda_available", lambda: cuda > 0)
    monkeypatch.setattr(device_module, "_cuda_count", lambda: cuda)
    monkeypatch.setattr(device_module, "_mps_available", lambda: mps)


@pytest.mark.parametrize(
    "cuda, mps, expected", [(2, True, "cuda"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _fake_hardware(monkeypatch, cuda, mps)
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected


def test_explicit_devices(monkeypatch):
    _fake_hardware(monkeypatch, cuda=2, mps=False)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(UsageError, match="only 2 CUDA"):
        resolve_device("cuda:5")
    with pytest.raises(UsageError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(UsageError, match="not a device"):
        resolve_device("tpu")
    _fake_hardware(monkeypatch, cuda=0)
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda")


def test_dtype_defaults():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", cuda) == torch.float16
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
    with pytest.raises(UsageError, match="not supported on CPU"):
        resolve_dtype("float16", cpu)
    with pytest.raises(UsageError, match="choose one of"):
        resolve_dtype("int4", cpu)


def test_references(tmp_path):
    assert resolve_ref("general", EMBEDDING_ALIASES).location == "laion/larger_clap_general"
    assert resolve_ref("laion/clap-htsat-fused", EMBEDDING_ALIASES).is_local is False
    local = resolve_ref(str(tmp_path), EMBEDDING_ALIASES)
    assert local.is_local and local.location == str(tmp_path.resolve())
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_ref("./missing-dir", EMBEDDING_ALIASES)
    with pytest.raises(ModelLoadError, match="neither an alias"):
        resolve_ref("no-such-alias", EMBEDDING_ALIASES)


def test_family_comes_from_config_not_name():
    assert family_from_config({"model_type": "clap"}) == "laion-clap"
    assert family_from_config({"model_type": "altclip"}) == "altclip"
    assert family_from_config({"_class_name": "AudioLDM2Pipeline"}) == "audioldm2"
    assert family_from_config({"model_type": "bert"}) is None


def test_uncached_hub_model_fails_in_one_line():
    with pytest.raises(ModelLoadError) as info:
        load_embedding_model("laion/clap-htsat-unfused", device="cpu")
    assert "not in the local cache and the hub cannot be reached" in str(info.value)
    assert "--model" in str(info.value)


def test_unknown_family_and_generator(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="'bert' checkpoint"):
        load_embedding_model(str(tmp_path), device="cpu")
    (tmp_path / "config.json").unlink()
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDM2Pipeline"}))
    with pytest.raises(ModelLoadError, match="clap generate"):
        load_embedding_model(str(tmp_path), device="cpu")


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_embedding_model(str(tmp_path), device="cpu")


def test_truncated_weights_fail_in_one_line(tiny_clap, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_clap, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="could not be loaded") as info:
        load_embedding_model(str(broken), device="cpu")
    assert "\n" not in str(info.value)


def test_missing_tokenizer_files_are_caught(tiny_clap, tmp_path):
    """transformers can silently return a 5-token tokenizer (docs/design.md §3); we refuse it."""
    stripped = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_clap, stripped)
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        (stripped / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_embedding_model(str(stripped), device="cpu")


def test_env_default_model(tiny_clap, monkeypatch):
    monkeypatch.setenv("CLAPCLI_MODEL", str(tiny_clap))
    model = load_embedding_model(None, device="cpu")
    assert model.model_id == str(tiny_clap.resolve())
    assert model.network.training is False


def test_bad_strategy_and_fusion_on_unfused(tiny_clap):
    with pytest.raises(UsageError, match="^long_audio "):
        load_embedding_model(str(tiny_clap), device="cpu", long_audio="random")
    with pytest.raises(UsageError, match="fused checkpoint"):
        load_embedding_model(str(tiny_clap), device="cpu", long_audio="fusion")
