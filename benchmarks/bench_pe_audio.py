"""PE-Audio: clapcli classify / embed vs a plain transformers loop (the model card's), same weights.

Full-size random weights: transformers' default ``PeAudioConfig`` (its docstring calls the audio encoder
pe-av-large style: 282M parameters; a ModernBERT-large text tower), with random weights: the released
checkpoints' exact sizes are not available offline here (the pe-a-frame card gives 450M / 560M / 1.4B for
small / base / large), so this is a base-to-large sized model. Clips: 10 s, 44.1 kHz stereo WAVs on disk,
resampled to 48 kHz on both sides.

Baseline (what the model card's loop looks like)::

    for path in paths:
        audio, _ = librosa.load(path, sr=48000)
        inputs = feature_extractor(audio, sampling_rate=48000, return_tensors="pt")
        logits = model(input_ids=..., attention_mask=..., **inputs).logits_audio_text   # classify
        embeds = model.get_audio_embeds(**inputs)                                        # embed

clapcli: ``prepare_labels`` + ``classify_media`` (sigmoid scores) and ``embed_media``, i.e. what
``clap classify`` / ``clap embed`` run after loading the model. Both sides use the same network object
(loaded once: it is ~2.7 GB in float32) and the same torch thread count. Alternating rounds, medians.
The full-size run sets an address-space limit (--memory-gb) on itself.

Usage: python benchmarks/bench_pe_audio.py [--files 8] [--repeats 2] [--labels 10] [--tiny]
"""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
from _common import (
    ESC50_LABELS,
    interleaved,
    parser,
    report_header,
    report_ratio,
    report_times,
    setup_torch,
    write_clips,
)


def pe_model_dir(work: Path, tiny: bool) -> Path:
    """The benchmark checkpoint, built once: the tests' tiny PE-Audio, or the full-size random one."""
    path = work / ("tiny-pe-audio" if tiny else "pe-audio-default-random")
    if (path / "config.json").exists() and (path / "preprocessor_config.json").exists():
        return path
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pe_audio"))
    from pe_models import build_tiny_pe_audio

    if tiny:
        return build_tiny_pe_audio(path)
    return build_full_pe_audio(path)


def build_full_pe_audio(path: Path, seed: int = 0) -> Path:
    import torch
    from pe_models import BIAS, SCALE
    from tiny_models import build_roberta_tokenizer
    from transformers import PeAudioConfig, PeAudioFeatureExtractor, PeAudioModel

    tokenizer = build_roberta_tokenizer(path / "_tok")
    text = dict(vocab_size=50368, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, cls_token_id=tokenizer.cls_token_id,
                sep_token_id=tokenizer.sep_token_id)
    torch.manual_seed(seed)
    model = PeAudioModel(PeAudioConfig(text_config=text)).eval()
    with torch.no_grad():
        model.text_audio_logit_scale.fill_(SCALE)
        model.text_audio_logit_bias.fill_(BIAS)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    PeAudioFeatureExtractor().save_pretrained(path)
    return path


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=8)
    p.add_argument("--labels", type=int, default=10, help="how many of the ESC-50 labels")
    p.add_argument("--memory-gb", type=float, default=16.0, help="address-space limit of the full-size run")
    args = p.parse_args()
    if not args.tiny:
        limit = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    setup_torch()
    import librosa
    import torch
    from transformers import AutoTokenizer, PeAudioFeatureExtractor

    from clapcli.core.classify import classify_media, prepare_labels
    from clapcli.core.embed import embed_media
    from clapcli.models.loading import load_embedding_model

    directory = pe_model_dir(args.work, args.tiny)
    paths = write_clips(args.work / "audio", args.files, args.seconds)
    labels = list(ESC50_LABELS[: args.labels])
    model = load_embedding_model(str(directory), device="cpu", runtime="torch")
    network = model.network
    extractor = PeAudioFeatureExtractor.from_pretrained(directory)
    tokens = AutoTokenizer.from_pretrained(directory)(labels, padding=True, return_tensors="pt")
    params = sum(t.numel() for t in network.parameters()) / 1e6

    def inputs_of(path: Path):
        audio, _ = librosa.load(path, sr=48000)
        return extractor(audio, sampling_rate=48000, return_tensors="pt")

    @torch.inference_mode()
    def card_classify() -> list[np.ndarray]:
        return [torch.sigmoid(network(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                                      **inputs_of(path)).logits_audio_text[0]).numpy() for path in paths]

    @torch.inference_mode()
    def card_embed() -> list[np.ndarray]:
        return [network.get_audio_embeds(**inputs_of(path))[0].numpy() for path in paths]

    def clap_classify() -> list[np.ndarray]:
        label_set = prepare_labels(model, labels, "{}")
        results = classify_media(model, paths, label_set, top_k=len(labels))
        return [np.array([dict((q.label, q.score) for q in r.predictions)[label] for label in labels])
                for r in results]

    def clap_embed() -> list[np.ndarray]:
        return [r.vector for r in embed_media(model, paths, normalize=False)]

    report_header("PE-Audio: clapcli vs the transformers model-card loop", args,
                  f"files={args.files} x {args.seconds:g} s 44.1 kHz stereo, labels={len(labels)}",
                  "tiny model" if args.tiny else f"default PeAudioConfig, random weights, {params:.0f}M params")
    times, results = interleaved({"card loop classify": card_classify, "clapcli classify": clap_classify,
                                  "card loop embed": card_embed, "clapcli embed": clap_embed}, args.repeats)
    report_times(times, args.files)
    score_diff = float(np.max(np.abs(np.stack(results["card loop classify"]) - np.stack(results["clapcli classify"]))))
    top1 = np.mean([np.argmax(a) == np.argmax(b) for a, b in zip(results["card loop classify"],
                                                                  results["clapcli classify"])])
    a, b = np.stack(results["card loop embed"]), np.stack(results["clapcli embed"])
    cosine = float(np.min(np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))
    print(f"max |sigmoid score difference| = {score_diff:.1e} (the two sides resample 44.1 -> 48 kHz differently: "
          "librosa vs clapcli's decoder)")
    for name, slow, fast in (("pe_classify_speedup", "card loop classify", "clapcli classify"),
                             ("pe_embed_speedup", "card loop embed", "clapcli embed")):
        ratio = times[slow] / times[fast]
        report_ratio(name, ratio, ">= 1.0", ratio >= 1.0)
    # Random full-size weights give every label nearly the same score (random weights collapse), so top-1
    # ties flip on noise; the score difference is the agreement that means something here.
    report_ratio("pe_classify_max_score_diff", score_diff, "<= 1e-3", score_diff <= 1e-3)
    report_ratio("pe_classify_top1_agreement", float(top1), "(info)", True)
    report_ratio("pe_embed_min_cosine", cosine, ">= 0.99", cosine >= 0.99)


if __name__ == "__main__":
    main()
