"""Issue 12, items 7 and 8: long audio in bounded memory, absurd sample rates fail one input.

Item 7: a long file's windows go through the model ``batch_size`` at a time (their mean as a running
sum) and are cut from the file block by block, never decoded whole; the numbers stay those of the
old one-batch, whole-file path. Item 8: a header saying 1 Hz (soxr segfaults on 1 Hz -> 48 kHz)
fails that input with one line, before any resampling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from audio_fixtures import noise

from clapcli.audio.decode import load_audio, open_audio
from clapcli.core.pipeline import STREAM_SECONDS, ArrayInput, encode_stream
from clapcli.errors import InputError
from clapcli.models.loading import load_embedding_model
from clapcli.results import FailedInput

# ---------------------------------------------------------------------- item 8: absurd sample rates


@pytest.fixture(scope="module")
def rate_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rates")
    files = {"good": folder / "good.wav", "one_hz": folder / "one_hz.wav", "huge": folder / "huge.wav"}
    sf.write(files["good"], noise(1.0, 48000, seed=3), 48000)
    sf.write(files["one_hz"], np.zeros(48000, np.float32), 1, subtype="PCM_16")  # the 96 KB file of the issue
    sf.write(files["huge"], np.zeros(4800, np.float32), 5_000_000, subtype="PCM_16")
    return files


@pytest.mark.parametrize("name, rate", [("one_hz", "1 Hz"), ("huge", "5000000 Hz")])
def test_absurd_rate_fails_before_resampling(rate_files, monkeypatch, name, rate):
    def no_soxr(*args, **kwargs):
        raise AssertionError("soxr was called")

    monkeypatch.setattr(soxr, "resample", no_soxr)
    monkeypatch.setattr(soxr, "ResampleStream", no_soxr)
    with pytest.raises(InputError) as info:
        load_audio(rate_files[name], 48000)
    message = str(info.value)
    assert message.startswith(f"{rate_files[name]}: sample rate {rate} is outside") and "\n" not in message
    with pytest.raises(InputError, match=rate):
        open_audio(rate_files[name], 48000)


@pytest.mark.parametrize("command", ["classify", "embed"])
def test_cli_batch_with_a_1hz_file_exits_3_with_the_good_result(tiny_clap, rate_files, command):
    """In a fresh process: before the fix the run died of SIGSEGV (exit -11), losing every result."""
    extra = ["--labels", "a,b"] if command == "classify" else []
    done = subprocess.run(
        [sys.executable, "-m", "clapcli", command, str(rate_files["good"]), str(rate_files["one_hz"]),
         "-m", str(tiny_clap), "--device", "cpu", "--format", "jsonl", *extra],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 3, (done.returncode, done.stderr[-1500:])
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    good = [r for r in rows if r.get("path") == str(rate_files["good"]) and "error" not in r]
    assert len(good) == 1
    failed = [line for line in done.stderr.splitlines() if str(rate_files["one_hz"]) in line]
    assert len(failed) == 1 and "sample rate 1 Hz" in failed[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("rate", [1, 0, -48000, 10**9])
def test_array_input_with_a_bad_rate_fails_that_input(loaded_clap, rate):
    good = ArrayInput("good", noise(1.0, 48000, seed=4), 48000)
    bad = ArrayInput("bad clip", np.zeros(48000, np.float32), rate)
    results = list(encode_stream([bad, good], loaded_clap))
    assert isinstance(results[0], FailedInput) and results[0].source == "bad clip"
    assert f"sample rate {rate} Hz is outside" in results[0].reason
    assert results[1].source == "good"


def test_python_api_with_a_1hz_array_raises_one_line(tiny_clap):
    """``clapcli.api.embed_audio(..., sample_rate=1)``, in a fresh process so a segfault is a failure."""
    code = ("import sys, numpy as np\n"
            "from clapcli.api import embed_audio, load_model\n"
            "from clapcli.errors import InputError\n"
            "model = load_model(sys.argv[1], device='cpu')\n"
            "try:\n"
            "    embed_audio(model, [np.zeros(48000, np.float32)], sample_rate=1)\n"
            "except InputError as exc:\n"
            "    print(exc)\n"
            "print(len(embed_audio(model, [np.zeros(48000, np.float32)], sample_rate=1, skip_failures=True)))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tiny_clap)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, (done.returncode, done.stderr[-1500:])
    message, kept = done.stdout.splitlines()
    assert message.startswith("<input 0>: sample rate 1 Hz is outside 1000-768000 Hz") and kept == "0"


# ---------------------------------------------------------------------- item 7: long audio


def _write_long(path: Path, seconds: float, rate: int = 44100, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)
    frames = int(seconds * rate)
    t = np.arange(frames) / rate
    mono = 0.3 * np.sin(2 * np.pi * (300 + 40 * np.sin(0.05 * t)) * t) + 0.05 * rng.standard_normal(frames)
    sf.write(path, np.stack([mono, 0.7 * mono], axis=1).astype(np.float32), rate, subtype="PCM_16")
    return path


def _old_decode(path: Path, rate: int) -> np.ndarray:
    """The decode before the fix: whole file, channel mean, one-shot soxr."""
    data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    return soxr.resample(data.mean(axis=1), source_rate, rate, quality="HQ").astype(np.float32)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seconds = STREAM_SECONDS + 47.3  # streamed; 11 LAION windows, 16 MS-CLAP windows
    return _write_long(tmp_path_factory.mktemp("long") / "long.wav", seconds)


@pytest.fixture(scope="module")
def tiny_msclap():
    """A tiny random MS-CLAP port behind its backend (audio path only; built from configs)."""
    from tiny_models import build_roberta_tokenizer

    from clapcli.models.msclap import MSClapModel, MSClapProcessor
    from clapcli.models.msclap.backend import MSClapBackend
    from clapcli.models.msclap.configuration import MSClapAudioConfig, MSClapConfig, MSClapTextConfig
    from clapcli.models.msclap.feature_extraction import MSClapFeatureExtractor

    text = MSClapTextConfig(vocab_size=420, n_positions=96, n_embd=64, hidden_size=64, num_hidden_layers=1,
                            num_attention_heads=1, projection_dim=48, bos_token_id=419, eos_token_id=419)
    audio = MSClapAudioConfig(patch_embeds_hidden_size=16, depths=[1, 1, 2, 1], num_attention_heads=[1, 2, 2, 4],
                              hidden_size=128, num_hidden_layers=4, num_mel_bins=64, projection_dim=48)
    torch.manual_seed(0)
    network = MSClapModel(MSClapConfig.from_text_audio_configs(text, audio)).eval()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        tokenizer = build_roberta_tokenizer(Path(folder))
    processor = MSClapProcessor(MSClapFeatureExtractor(), tokenizer)
    return lambda long_audio: MSClapBackend(network, processor, "tiny-msclap", torch.device("cpu"),
                                            torch.float32, long_audio)


def _laion(path: Path, long_audio: str):
    return load_embedding_model(str(path), device="cpu", long_audio=long_audio)


def _forward_sizes(model) -> list[int]:
    """Records the number of windows of every audio forward pass."""
    sizes: list[int] = []
    if model.family == "msclap":
        original = model.network._audio_embeds

        def spy(features, *args):
            sizes.append(len(features))
            return original(features, *args)

        model.network._audio_embeds = spy
    else:
        model.network.audio_model.register_forward_hook(
            lambda module, args, kwargs, out: sizes.append(len(kwargs["input_features"])), with_kwargs=True)
    return sizes


def _one_batch(model, samples: np.ndarray) -> np.ndarray:
    """Today's (pre-fix) computation: every window of the whole clip in one forward pass."""
    return model.encode_prepared([model.prepare(samples)]).numpy()[0]


def _streamed(model, path: Path, batch_size: int = 4) -> np.ndarray:
    (result,) = list(encode_stream([path], model, batch_size=batch_size, workers=1))
    assert not isinstance(result, FailedInput), result
    return result.vector


@pytest.mark.parametrize("family", ["laion", "msclap"])
@pytest.mark.parametrize("strategy", ["mean", "head", "center"])
def test_long_file_in_chunks_equals_one_batch(family, strategy, tiny_clap, tiny_msclap, long_wav):
    model = _laion(tiny_clap, strategy) if family == "laion" else tiny_msclap(strategy)
    reference = _one_batch(model, _old_decode(long_wav, model.sample_rate))
    sizes = _forward_sizes(model)
    vector = _streamed(model, long_wav, batch_size=4)
    windows = -(-int(long_wav.stat().st_size // 4 / 44100 * model.sample_rate) // model.window_samples)
    assert max(sizes) <= 4  # never all windows at once
    assert sum(sizes) == (1 if strategy != "mean" else pytest.approx(windows, abs=1))
    np.testing.assert_allclose(vector, reference, atol=1e-5, rtol=0)
    cosine = vector @ reference / np.linalg.norm(vector) / np.linalg.norm(reference)
    assert cosine > 0.99999


def test_fused_long_file_streams_its_mel_and_matches(tiny_clap_fused, long_wav):
    model = _laion(tiny_clap_fused, "fusion")
    reference = _one_batch(model, _old_decode(long_wav, model.sample_rate))
    np.testing.assert_allclose(_streamed(model, long_wav), reference, atol=1e-5, rtol=0)
    item = model.prepare(open_audio(long_wav, model.sample_rate))
    assert item.whole is None and item.whole_mel is not None and item.whole_mel.dtype == np.float32


def test_streamed_decode_equals_one_shot_soxr(long_wav):
    """soxr's ResampleStream over 2**18-frame blocks gives one-shot soxr's samples exactly."""
    stream = open_audio(long_wav, 48000)
    old = _old_decode(long_wav, 48000)
    assert stream.length == len(old)
    assert np.array_equal(np.concatenate(list(stream.blocks())), old)
    assert np.array_equal(load_audio(long_wav, 48000).samples, old)


def _numpy_peak(model, path: Path) -> float:
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        _streamed(model, path, batch_size=4)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_long_file_memory_is_flat_in_its_length(loaded_clap, tmp_path):
    """Peak numpy memory of embedding an 8-minute stereo file is that of a 2-minute one (before the
    fix it held the whole file at 44.1 kHz stereo plus at 48 kHz mono: 4x the 2-minute peak)."""
    short = _numpy_peak(loaded_clap, _write_long(tmp_path / "two_minutes.wav", 120.0))
    long = _numpy_peak(loaded_clap, _write_long(tmp_path / "eight_minutes.wav", 480.0))
    assert long <= 1.2 * short, f"peak {long / 1e6:.1f} MB vs {short / 1e6:.1f} MB"
    assert long < 0.5 * 480 * 48000 * 4, f"peak {long / 1e6:.1f} MB"  # half the clip, mono at 48 kHz


def test_a_bad_block_in_a_long_file_fails_that_file_only(loaded_clap, tmp_path):
    samples = noise(STREAM_SECONDS + 30, 16000, seed=6)
    samples[len(samples) * 3 // 4] = np.nan  # found only when that block is read, during encoding
    bad = tmp_path / "bad_late.wav"
    sf.write(bad, samples, 16000, subtype="FLOAT")
    good = tmp_path / "good.wav"
    sf.write(good, noise(2.0, 16000, seed=7), 16000)
    results = list(encode_stream([bad, good], loaded_clap, batch_size=4, workers=1))
    assert isinstance(results[0], FailedInput) and "NaN or infinite" in results[0].reason
    assert results[1].source == str(good)


@pytest.mark.parametrize("family", ["laion", "laion-fused", "msclap"])
def test_streamed_chunks_are_cut_with_numpy_only(family, tiny_clap, tiny_clap_fused, tiny_msclap, long_wav):
    """Chunks are produced in a helper thread beside the model: the decode threads' numpy-only rule."""
    from torch_calls import torch_calls_in

    if family == "msclap":
        model = tiny_msclap("mean")
    else:
        model = _laion(tiny_clap_fused, "fusion") if family == "laion-fused" else _laion(tiny_clap, "mean")
    stream = open_audio(long_wav, model.sample_rate)
    calls, item = torch_calls_in(model.prepare, stream)
    assert calls == []
    if family == "laion-fused":
        assert item.fusion and item.whole_mel is not None  # the whole clip's mel, made in prepare
    else:
        calls, chunks = torch_calls_in(lambda: list(item.chunks(4)))
        assert calls == [] and [count for _, count in chunks] == [4, 4, 4, 4][: len(chunks) - 1] + [chunks[-1][1]]
        assert sum(count for _, count in chunks) == item.cost


def test_progress_moves_inside_a_long_input(loaded_clap) -> None:
    """A long file advances the progress by a share per chunk (not 0/1 until its end); the shares of
    every input add up to the number of inputs, also for one that fails."""
    from clapcli.core.pipeline import ArrayInput, encode_stream
    from clapcli.results import FailedInput

    rate = loaded_clap.sample_rate
    long_clip = ArrayInput("long", (0.1 * np.sin(np.arange(150 * rate) / 7)).astype(np.float32), rate)
    short_clip = ArrayInput("short", (0.1 * np.sin(np.arange(2 * rate) / 5)).astype(np.float32), rate)
    steps: list[float] = []
    results = list(encode_stream([short_clip, long_clip, FailedInput("gone.wav", "missing"), short_clip],
                                 loaded_clap, batch_size=4, workers=2, on_progress=steps.append))
    assert [r.source for r in results] == ["short", "long", "gone.wav", "short"]
    fractions = [s for s in steps if 0 < s < 1]
    assert len(fractions) >= 3  # 15 windows in chunks of 4
    assert sum(fractions) == pytest.approx(1.0)
    assert sum(steps) == pytest.approx(4.0)
