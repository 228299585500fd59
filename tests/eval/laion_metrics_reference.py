"""LAION-CLAP's own retrieval metric code (``laion_clap/training/train.py``), imported from the installed
package (1.1.7, --no-deps) without its training stack.

``train.py`` imports ``clap_module`` (the model package, which needs torchvision) for ``ClipLoss`` and
``gather_features``, and ``.distributed`` for ``is_master``; neither is used by ``get_metrics`` or
``evaluate_clotho_audiocaps``. The file is loaded under a private package name with those two stubbed,
and ``evaluate_clotho_audiocaps`` is fed a fake model and data loader that hand it our feature matrices
(its tokenizer, ``.data.tokenizer``, is stubbed to pass caption indices through).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

_PACKAGE = "_laion_train_reference"


def _stub(name: str, **attributes) -> types.ModuleType:
    module = sys.modules.get(name) or types.ModuleType(name)
    module.__dict__.update(attributes)
    module.__spec__ = module.__spec__ or importlib.machinery.ModuleSpec(name, None)
    sys.modules[name] = module
    return module


def laion_train_module() -> types.ModuleType:
    if f"{_PACKAGE}.train" in sys.modules:
        return sys.modules[f"{_PACKAGE}.train"]
    source = Path(importlib.util.find_spec("laion_clap").submodule_search_locations[0]) / "training"
    package = types.ModuleType(_PACKAGE)
    package.__path__ = [str(source)]
    package.__spec__ = importlib.machinery.ModuleSpec(_PACKAGE, None, is_package=True)
    sys.modules[_PACKAGE] = package
    _stub(f"{_PACKAGE}.distributed", is_master=lambda *a, **k: True)
    _stub(f"{_PACKAGE}.data", tokenizer=lambda texts, tmodel=None: {"idx": torch.as_tensor(texts)})
    saved = sys.modules.get("clap_module")
    _stub("clap_module", ClipLoss=object, gather_features=lambda *a, **k: None)
    try:
        spec = importlib.util.spec_from_file_location(f"{_PACKAGE}.train", source / "train.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("clap_module", None)
        else:
            sys.modules["clap_module"] = saved
    return module


def laion_get_metrics(audio: np.ndarray, text: np.ndarray, logit_scale: float = 1.0) -> dict:
    """``get_metrics`` on (n, d) audio and (n, d) text features, caption i describing clip i."""
    train = laion_train_module()
    metrics = train.get_metrics(torch.as_tensor(audio), torch.as_tensor(text), torch.tensor(logit_scale))
    return {k: float(v) for k, v in metrics.items() if k not in ("cumulative_loss", "num_samples")}


class _FakeModel:
    def __init__(self, audio: np.ndarray, text: np.ndarray, logit_scale: float) -> None:
        self.audio = torch.as_tensor(audio)
        self.text = torch.as_tensor(text)
        self.scale = torch.tensor(logit_scale)

    def __call__(self, audios, texts, device):
        if audios is None and texts is None:
            return self.scale, self.scale
        if texts is None:
            return self.audio[audios["idx"]]
        return self.text[texts["idx"]]


def laion_clotho_metrics(audio: np.ndarray, text: np.ndarray, logit_scale: float = 1.0,
                         batch: int = 7) -> dict:
    """``evaluate_clotho_audiocaps`` on (n, d) audio and (5n, d) text features, captions 5i..5i+4
    describing clip i."""
    train = laion_train_module()
    n = len(audio)
    batches = [{"idx": torch.arange(s, min(n, s + batch)),
                "full_text": [list(range(5 * i, 5 * i + 5)) for i in range(s, min(n, s + batch))],
                "__url__": ["/data/clotho/test/x.tar"] * (min(n, s + batch) - s)}
               for s in range(0, n, batch)]
    data = {"val": types.SimpleNamespace(dataloader=batches)}
    args = types.SimpleNamespace(tmodel="stub")
    result = train.evaluate_clotho_audiocaps(_FakeModel(audio, text, logit_scale), data, 0, args,
                                             contextlib.nullcontext, "cpu")
    (metrics,) = result.values()
    return {k.split("/", 1)[1]: float(v) for k, v in metrics.items()
            if not k.endswith(("cumulative_loss", "num_samples"))}
