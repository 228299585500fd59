"""Build the original MS-CLAP and LAION-CLAP models from their own code, with random weights.

Used by the fidelity tests and ``benchmarks/fidelity_convert.py``. The reference packages are installed
without their dependencies (``pip install --no-deps msclap==1.3.4 laion-clap==1.1.7 torchlibrosa``):
third-party modules they import but never use on this path (torchaudio, torchvision, h5py) are stubbed,
their hub downloads (GPT-2, RoBERTa) are replaced by models built from a config, and LAION's package
``__init__`` (which pulls training-only dependencies) is bypassed by loading ``clap_module`` directly.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
import torch
from torch import nn

# Buffers the original models compute rather than learn; randomizing them would not test anything.
_FIXED = ("spectrogram_extractor", "logmel_extractor", "relative_position_index", "attn_mask", "position_ids",
          "token_type_ids", "num_batches_tracked", "attn.bias", "masked_bias")


def reference_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("msclap", "laion_clap", "torchlibrosa"))


def _stub(name: str, **attributes) -> types.ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def randomize(model: nn.Module, seed: int = 0, scale: float = 0.05) -> nn.Module:
    """Perturb every learned tensor and BatchNorm statistic, so a misplaced weight changes the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if any(part in name for part in _FIXED) or not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            else:
                tensor.add_(noise * scale)
    return model.eval()


# --------------------------------------------------------------------------- MS-CLAP

def _msclap_modules():
    _stub("torchaudio")
    _stub("torchaudio.transforms")
    sys.modules["torchaudio"].transforms = sys.modules["torchaudio.transforms"]
    clap = importlib.import_module("msclap.models.clap")
    htsat = importlib.import_module("msclap.models.htsat")
    return clap, htsat


def build_msclap(gpt2_config, htsat: dict | None = None, d_proj: int = 1024, seed: int = 0) -> nn.Module:
    """Microsoft's ``CLAP`` (2023 settings: HTSAT audio, GPT-2 text). ``htsat`` overrides HTSAT sizes."""
    from transformers import GPT2Model

    clap_module, htsat_module = _msclap_modules()
    htsat = htsat or {}
    embed_dim = htsat.get("embed_dim", 96)
    out_emb = embed_dim * 2 ** (len(htsat.get("depths", [2, 2, 6, 2])) - 1)

    def sized_wrapper(self, *args, **kwargs):
        nn.Module.__init__(self)
        self.htsat = htsat_module.HTSAT_Swin_Transformer(config=htsat_module.config, **htsat)

    with mock.patch.object(clap_module.AutoModel, "from_pretrained", lambda *a, **k: GPT2Model(gpt2_config)), \
            mock.patch.object(htsat_module.HTSATWrapper, "__init__", sized_wrapper):
        model = clap_module.CLAP(
            audioenc_name="HTSAT", sample_rate=44100, window_size=1024, hop_size=320, mel_bins=64, fmin=50,
            fmax=8000, classes_num=527, out_emb=out_emb, text_model="gpt2",
            transformer_embed_dim=gpt2_config.n_embd, d_proj=d_proj,
        )
    return randomize(model, seed)


def msclap_tokenize(tokenizer, texts: list[str], text_len: int = 77) -> dict:
    """The original wrapper's text preprocessing: append EOS, pad with '!' to 77 tokens."""
    rows = [tokenizer(t + " <|endoftext|>", add_special_tokens=True, max_length=text_len,
                                  padding="max_length", return_tensors="pt") for t in texts]
    return {key: torch.cat([row[key] for row in rows]) for key in ("input_ids", "attention_mask")}


def msclap_audio_embeddings(model: nn.Module, waveforms: torch.Tensor) -> torch.Tensor:
    """Unnormalized projected audio embeddings from raw (batch, samples) audio at 44.1 kHz."""
    with torch.no_grad():
        return model.audio_encoder(waveforms)[0]


def msclap_text_embeddings(model: nn.Module, tokens: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.caption_encoder(tokens)


# --------------------------------------------------------------------------- LAION CLAP

_LAION_PACKAGE = "_laion_clap_reference"


def _laion_model_module():
    if f"{_LAION_PACKAGE}.model" in sys.modules:
        return sys.modules[f"{_LAION_PACKAGE}.model"]
    _stub("h5py")
    _stub("torchvision")
    _stub("torchvision.ops")
    _stub("torchvision.ops.misc", FrozenBatchNorm2d=nn.Identity)
    source = Path(importlib.util.find_spec("laion_clap").submodule_search_locations[0]) / "clap_module"
    package = types.ModuleType(_LAION_PACKAGE)
    package.__path__ = [str(source)]
    package.__spec__ = importlib.machinery.ModuleSpec(_LAION_PACKAGE, None, is_package=True)
    sys.modules[_LAION_PACKAGE] = package
    return importlib.import_module(f"{_LAION_PACKAGE}.model")


def build_laion(roberta_config, amodel: str = "HTSAT-tiny", fused: bool = False, htsat: dict | None = None,
                seed: int = 0) -> nn.Module:
    """LAION's ``CLAP`` (HTSAT audio, RoBERTa text), ``aff_2d`` fusion when ``fused``."""
    from transformers import RobertaModel

    model_module = _laion_model_module()
    htsat_module = sys.modules[f"{_LAION_PACKAGE}.htsat"]
    tiny = amodel == "HTSAT-tiny"
    sizes = {"embed_dim": 96 if tiny else 128, "depths": [2, 2, 6, 2] if tiny else [2, 2, 12, 2]}
    sizes.update(htsat or {})
    audio_cfg = {"audio_length": 1024, "clip_samples": 480000, "mel_bins": 64, "sample_rate": 48000,
                 "window_size": 1024, "hop_size": 480, "fmin": 50, "fmax": 14000, "class_num": 527,
                 "model_type": "HTSAT", "model_name": "tiny" if tiny else "base"}
    text_cfg = {"context_length": 77, "vocab_size": roberta_config.vocab_size, "width": 512, "heads": 8,
                "layers": 12, "model_type": "roberta"}

    def sized_htsat(cfg, enable_fusion=False, fusion_type="None"):
        return htsat_module.HTSAT_Swin_Transformer(
            spec_size=256, patch_size=4, patch_stride=(4, 4), num_classes=cfg.class_num, window_size=8,
            num_heads=sizes.get("num_heads", [4, 8, 16, 32]), embed_dim=sizes["embed_dim"], depths=sizes["depths"],
            config=cfg, enable_fusion=enable_fusion, fusion_type=fusion_type,
        )

    build_roberta = lambda *a, **k: RobertaModel(roberta_config)  # noqa: E731
    with mock.patch.object(model_module.RobertaModel, "from_pretrained", build_roberta), \
            mock.patch.object(model_module, "create_htsat_model", sized_htsat):
        model = model_module.CLAP(
            embed_dim=sizes["embed_dim"] * 8, audio_cfg=audio_cfg, text_cfg=text_cfg,
            enable_fusion=fused, fusion_type="aff_2d" if fused else "None", joint_embed_shape=512, mlp_act="relu",
        )
    return randomize(model, seed)


def laion_audio_embeddings(model: nn.Module, waveforms: torch.Tensor | None = None,
                           mel_fusion: torch.Tensor | None = None, longer: torch.Tensor | None = None) -> torch.Tensor:
    """Unnormalized projected audio embeddings: raw 48 kHz audio (unfused) or 4-channel mels (fused)."""
    data = {"waveform": waveforms} if mel_fusion is None else {"mel_fusion": mel_fusion, "longer": longer}
    with torch.no_grad():
        return model.audio_projection(model.encode_audio(data, device="cpu")["embedding"])


def laion_text_embeddings(model: nn.Module, tokens: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.encode_text(tokens, device="cpu")


@contextmanager
def no_grad():
    with torch.no_grad():
        yield


# Shared by the MS-CLAP tests (here, not in conftest.py: test modules import them by name, and a module
# called 'conftest' exists in several test folders).
SAMPLE_TEXTS = ["a dog barking", "rain on a roof, and thunder", "music!"]

requires_reference = pytest.mark.skipif(
    not reference_available(),
    reason="reference code missing: pip install --no-deps msclap==1.3.4 laion-clap==1.1.7 torchlibrosa",
)
