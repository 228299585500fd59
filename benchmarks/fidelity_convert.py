"""Fidelity of ``clap convert`` at full size: ours vs the original code, same random weights.

For MS-CLAP 2023 (HTSAT-tiny + GPT-2 small) and LAION CLAP (unfused HTSAT-tiny, fused HTSAT-tiny,
unfused HTSAT-base; RoBERTa-base text tower), build the original model from its own code with
random weights, save it in the release layout, convert it with ``convert_checkpoint`` (what
``clap convert`` runs) and compare audio and text embeddings. Prints cosine (min over the batch)
and max abs difference of the L2-normalized embeddings.

Needs the reference code: ``pip install --no-deps msclap==1.3.4 laion-clap==1.1.7 torchlibrosa``.
Tokenizers are small BPEs trained offline (no hub access); the models keep their full vocabularies.
Run: ``python benchmarks/fidelity_convert.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "msclap"))

import msclap_reference as reference  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

TEXTS = ["a dog barking", "rain on a tin roof, and thunder", "music!", "a man speaking on the phone"]


class _TmpFactory:
    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def _compare(name: str, ours: torch.Tensor, original: torch.Tensor) -> tuple[float, float]:
    ours, original = F.normalize(ours, dim=-1), F.normalize(original, dim=-1)
    cosine = F.cosine_similarity(ours, original).min().item()
    diff = (ours - original).abs().max().item()
    print(f"  {name:<6} cosine {cosine:.7f}   max abs diff {diff:.2e}", flush=True)
    return cosine, diff


def run_msclap(factory: _TmpFactory, tokenizer_dir: Path) -> list[tuple[float, float]]:
    from transformers import GPT2Config

    from clapcli.models.conversion import convert_checkpoint
    from clapcli.models.msclap import MSClapModel, MSClapProcessor

    original = reference.build_msclap(GPT2Config(), seed=11)  # GPT-2 small, HTSAT-tiny, 1024-d
    path = factory.mktemp("msclap") / "CLAP_weights_2023.pth"
    torch.save({"model": original.state_dict()}, path)
    output = factory.mktemp("msclap-hf") / "model"
    report = convert_checkpoint("msclap", path, output, tokenizer=str(tokenizer_dir))
    print(f"msclap-2023: {report.parameters['total']:,} parameters, {len(report.dropped_keys)} keys dropped")
    model = MSClapModel.from_pretrained(output).eval()
    processor = MSClapProcessor.from_pretrained(output)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(7 * 44100)).astype(np.float32),
             (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * 44100) / 44100)).astype(np.float32)]
    waves = torch.from_numpy(np.stack([processor.feature_extractor.fit_window(c) for c in clips])).float()
    with torch.no_grad():
        ours_audio = model.get_audio_features(**processor(audio=clips)).pooler_output
        ours_text = model.get_text_features(**processor(text=TEXTS)).pooler_output
    tokens = reference.msclap_tokenize(processor.tokenizer, TEXTS)
    return [_compare("audio", ours_audio, reference.msclap_audio_embeddings(original, waves)),
            _compare("text", ours_text, reference.msclap_text_embeddings(original, tokens))]


def run_laion(factory: _TmpFactory, tokenizer_dir: Path, amodel: str, fused: bool) -> list[tuple[float, float]]:
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel, RobertaConfig

    from clapcli.models.conversion import convert_checkpoint

    roberta = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2)
    original = reference.build_laion(roberta, amodel=amodel, fused=fused, seed=12)
    path = factory.mktemp("laion") / "original.pt"
    torch.save({"state_dict": {"module." + k: v for k, v in original.state_dict().items()}}, path)
    output = factory.mktemp("laion-hf") / "model"
    report = convert_checkpoint("laion", path, output, tokenizer=str(tokenizer_dir), fused=fused, amodel=amodel)
    label = f"laion {'fused' if fused else 'unfused'} {amodel}"
    print(f"{label}: {report.parameters['total']:,} parameters, {len(report.dropped_keys)} keys dropped")
    model = ClapModel.from_pretrained(output).eval()
    tokens = AutoTokenizer.from_pretrained(output)(TEXTS, padding=True, return_tensors="pt")
    rng = np.random.default_rng(1)
    results = []
    with torch.no_grad():
        if fused:
            mels = torch.from_numpy(rng.standard_normal((2, 4, 1001, 64)).astype(np.float32)) * 10 - 40
            flags = torch.tensor([True, False])
            ours = model.get_audio_features(input_features=mels, is_longer=flags[:, None]).pooler_output
            theirs = reference.laion_audio_embeddings(original, mel_fusion=mels.clone(), longer=flags.clone())
        else:
            audio = (0.1 * rng.standard_normal((2, 480000))).astype(np.float32)
            features = ClapFeatureExtractor.from_pretrained(output)(list(audio), sampling_rate=48000,
                                                                    return_tensors="pt")["input_features"]
            ours = model.get_audio_features(input_features=features).pooler_output
            theirs = reference.laion_audio_embeddings(original, waveforms=torch.from_numpy(audio))
        results.append(_compare("audio", ours, theirs))
        ours_text = model.get_text_features(**tokens).pooler_output
    results.append(_compare("text", ours_text, reference.laion_text_embeddings(original, dict(tokens))))
    return results


def main() -> int:
    import conftest  # the offline tokenizer trainers

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        factory = _TmpFactory(Path(root))
        gpt2 = conftest.gpt2_tokenizer_dir.__wrapped__(factory)
        roberta = conftest.roberta_tokenizer_dir.__wrapped__(factory)
        started = time.perf_counter()
        results = run_msclap(factory, gpt2)
        for amodel, fused in (("HTSAT-tiny", False), ("HTSAT-tiny", True), ("HTSAT-base", False)):
            results += run_laion(factory, roberta, amodel, fused)
    worst_cos = min(c for c, _ in results)
    worst_diff = max(d for _, d in results)
    ok = worst_cos >= 0.9999 and worst_diff <= 1e-4
    print(f"worst: cosine {worst_cos:.7f}, max abs diff {worst_diff:.2e} -> {'PASS' if ok else 'FAIL'} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
