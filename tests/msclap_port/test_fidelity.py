"""Our port and converter vs the original implementations, on the same random weights."""

from __future__ import annotations

import msclap_reference as reference
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from msclap_reference import SAMPLE_TEXTS, requires_reference

pytestmark = requires_reference

COSINE_MIN = 0.9999
MAX_ABS = 1e-4


def _assert_close(ours: torch.Tensor, original: torch.Tensor) -> None:
    original = F.normalize(original, dim=-1)
    ours = F.normalize(ours, dim=-1)
    assert F.cosine_similarity(ours, original).min().item() >= COSINE_MIN
    assert (ours - original).abs().max().item() <= MAX_ABS


@pytest.fixture(scope="module")
def msclap_converted(msclap_original, gpt2_tokenizer_dir, tmp_path_factory):
    from clapcli.models.conversion import convert_checkpoint

    output = tmp_path_factory.mktemp("msclap-hf") / "model"
    report = convert_checkpoint("msclap", msclap_original[1], output, tokenizer=str(gpt2_tokenizer_dir))
    return output, report


def _clips(rate: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(int(2.3 * rate)) / rate
    return [
        (0.1 * rng.standard_normal(7 * rate)).astype(np.float32),  # exactly one window
        (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),  # short: repeated to fill the window
    ]


def test_feature_extractor_matches_original_log_mel() -> None:
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    from clapcli.models.msclap import MSClapFeatureExtractor

    extractor = MSClapFeatureExtractor()
    # The original's quirk: 44.1 kHz audio, filterbank built for 32 kHz with fmax 14 kHz.
    spectrogram = Spectrogram(n_fft=1024, hop_length=320, win_length=1024, window="hann", center=True,
                              pad_mode="reflect", freeze_parameters=True).double()
    logmel = LogmelFilterBank(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0, amin=1e-10,
                              top_db=None, freeze_parameters=True).double()
    # Noise: 1e-4 dB. Pure tone: the original's DFT runs on float32-rounded weights, whose leakage
    # shows in bins ~100 dB below the peak; the bound there is 0.02 dB.
    for clip, tolerance in zip(_clips(44100), (1e-4, 0.02), strict=True):
        window = extractor.fit_window(clip)
        original = logmel(spectrogram(torch.from_numpy(window)[None]))[0, 0]
        ours = torch.from_numpy(extractor.log_mel(window))
        assert ours.shape == (965, 64)
        assert (ours - original).abs().max().item() <= tolerance


def test_msclap_converted_matches_original(msclap_original, msclap_converted) -> None:
    from transformers import AutoModel, AutoProcessor

    import clapcli.models.msclap  # noqa: F401  (registers the Auto classes)

    original, _ = msclap_original
    directory, _ = msclap_converted
    model = AutoModel.from_pretrained(directory).eval()
    processor = AutoProcessor.from_pretrained(directory)
    clips = _clips(44100)
    waveforms = torch.from_numpy(np.stack([processor.feature_extractor.fit_window(c) for c in clips])).float()
    with torch.no_grad():
        ours_audio = model.get_audio_features(**processor(audio=clips)).pooler_output
        ours_text = model.get_text_features(**processor(text=SAMPLE_TEXTS)).pooler_output
    _assert_close(ours_audio, reference.msclap_audio_embeddings(original, waveforms))
    # The original pads to 77 tokens with "!"; we pad per batch: same numbers.
    tokens = reference.msclap_tokenize(processor.tokenizer, SAMPLE_TEXTS)
    _assert_close(ours_text, reference.msclap_text_embeddings(original, tokens))
    assert model.logit_scale.item() == pytest.approx(original.logit_scale.item())


def test_msclap_forward_logits(msclap_converted) -> None:
    from clapcli.models.msclap import MSClapModel, MSClapProcessor

    directory, _ = msclap_converted
    model = MSClapModel.from_pretrained(directory).eval()
    processor = MSClapProcessor.from_pretrained(directory)
    inputs = processor(text=SAMPLE_TEXTS, audio=_clips(44100))
    with torch.no_grad():
        outputs = model(**inputs)
        audio = model.get_audio_features(input_features=inputs["input_features"]).pooler_output
        text = model.get_text_features(input_ids=inputs["input_ids"]).pooler_output
    expected = audio @ text.T * model.logit_scale.exp()
    assert outputs.logits_per_audio.shape == (2, 3)
    assert (outputs.logits_per_audio - expected).abs().max().item() <= 1e-4
    assert torch.equal(outputs.logits_per_text, outputs.logits_per_audio.T)


def _convert_laion(original_and_path, tokenizer_dir, tmp_path_factory, fused: bool):
    from clapcli.models.conversion import convert_checkpoint

    output = tmp_path_factory.mktemp("laion-hf") / "model"
    convert_checkpoint("laion", original_and_path[1], output, tokenizer=str(tokenizer_dir), fused=fused)
    return output


def _laion_text_check(original, directory) -> None:
    from transformers import AutoTokenizer, ClapModel

    model = ClapModel.from_pretrained(directory).eval()
    tokens = AutoTokenizer.from_pretrained(directory)(SAMPLE_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model.get_text_features(**tokens).pooler_output
    _assert_close(ours, reference.laion_text_embeddings(original, dict(tokens)))


def test_laion_unfused_matches_original(laion_unfused_original, roberta_tokenizer_dir, tmp_path_factory) -> None:
    from transformers import ClapFeatureExtractor, ClapModel

    original = laion_unfused_original[0]
    directory = _convert_laion(laion_unfused_original, roberta_tokenizer_dir, tmp_path_factory, fused=False)
    model = ClapModel.from_pretrained(directory).eval()
    extractor = ClapFeatureExtractor.from_pretrained(directory)
    audio = (0.1 * np.random.default_rng(4).standard_normal((2, 480000))).astype(np.float32)
    features = extractor(list(audio), sampling_rate=48000, return_tensors="pt")["input_features"]
    with torch.no_grad():
        ours = model.get_audio_features(input_features=features).pooler_output
    # The original computes its log-mel inside the model from the raw waveform.
    _assert_close(ours, reference.laion_audio_embeddings(original, waveforms=torch.from_numpy(audio)))
    _laion_text_check(original, directory)


def test_laion_fused_matches_original(laion_fused_original, roberta_tokenizer_dir, tmp_path_factory) -> None:
    from transformers import ClapModel

    original = laion_fused_original[0]
    directory = _convert_laion(laion_fused_original, roberta_tokenizer_dir, tmp_path_factory, fused=True)
    model = ClapModel.from_pretrained(directory).eval()
    # The original takes precomputed fusion mels (4 channels); feed both the same ones.
    mels = torch.from_numpy(np.random.default_rng(5).standard_normal((2, 4, 1001, 64)).astype(np.float32)) * 10 - 40
    for longer in ([True, False], [False, False]):
        flags = torch.tensor(longer)
        with torch.no_grad():
            ours = model.get_audio_features(input_features=mels, is_longer=flags[:, None]).pooler_output
        _assert_close(ours, reference.laion_audio_embeddings(original, mel_fusion=mels.clone(), longer=flags.clone()))
    _laion_text_check(original, directory)


def test_loads_pr_31929_layout(msclap_converted, tmp_path) -> None:
    """A checkpoint in the ``kamilakesbi/ms_clap`` layout (nested GPT-2 config, HTSAT classifier head and
    old GPT-2 mask buffers kept) loads with no missing weights and gives the same embeddings."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    from clapcli.models.msclap import MSClapModel, MSClapProcessor

    directory, _ = msclap_converted
    legacy = tmp_path / "legacy"
    shutil.copytree(directory, legacy)
    config = json.loads((legacy / "config.json").read_text())
    config["text_config"]["text_model_config"] = {"model_type": "gpt2", "n_embd": config["text_config"]["n_embd"]}
    (legacy / "config.json").write_text(json.dumps(config))
    weights = load_file(legacy / "model.safetensors")
    width = config["audio_config"]["hidden_size"]
    weights["audio_model.audio_encoder.tscam_conv.weight"] = torch.zeros(527, width, 2, 3)
    weights["audio_model.audio_encoder.tscam_conv.bias"] = torch.zeros(527)
    weights["text_model.h.0.attn.bias"] = torch.ones(1, 1, 4, 4)
    save_file(weights, legacy / "model.safetensors")

    model, info = MSClapModel.from_pretrained(legacy, output_loading_info=True)
    assert not info["missing_keys"]
    reference_model = MSClapModel.from_pretrained(directory).eval()
    inputs = MSClapProcessor.from_pretrained(legacy)(text=SAMPLE_TEXTS, audio=_clips(44100)[:1])
    with torch.no_grad():
        got = model.eval()(**inputs)
        expected = reference_model(**inputs)
    assert (got.audio_embeds - expected.audio_embeds).abs().max().item() <= 1e-6
    assert torch.equal(got.text_embeds, expected.text_embeds)
