"""``clap generate`` end to end through the Typer app (tiny model, real files, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import SECONDS, STEPS

BASE = ["--model", "tiny", "--seconds", SECONDS, "--steps", STEPS, "--quiet"]


def test_writes_wav_at_16k(run, shared_generator, tmp_path: Path):
    out = tmp_path / "rain.wav"
    result = run(["generate", "rain in a forest", *BASE, "--seed", 7, "-o", out])
    assert result.exit_code == 0, result.stderr
    info = sf.info(str(out))
    assert (info.samplerate, info.frames, info.channels, info.format) == (16000, 8000, 1, "WAV")
    assert not list(tmp_path.glob("*.part"))


def test_same_seed_same_bytes_and_equal_to_library(run, shared_generator, generator, tmp_path: Path):
    from clapcli.core.generate import GenerationSettings

    for name in ("a.wav", "b.wav"):
        assert run(["generate", "a dog barking", *BASE, "--seed", 7, "-o", tmp_path / name]).exit_code == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    [audio] = generator.generate("a dog barking", GenerationSettings(steps=STEPS, seconds=SECONDS, seed=7))
    written, _ = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    assert np.max(np.abs(written - audio.samples)) <= 1 / 32768 + 1e-7  # 16-bit WAV of the same waveform


def test_json_summary_has_metadata(run, shared_generator, generator, tmp_path: Path):
    out = tmp_path / "dog.wav"
    result = run(["generate", "a dog barking", *BASE, "--seed", 3, "--negative", "low quality", "--candidates", 3,
                  "--keep-candidates", "--scheduler", "ddim", "-o", out, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert record["prompt"] == "a dog barking" and record["seed"] == 3 and record["steps"] == STEPS
    assert record["model"] == generator.model_id
    assert record["scheduler"] == "ddim" and record["negative"] == "low quality"
    assert record["path"] == str(out) and record["sample_rate"] == 16000 and record["format"] == "wav"
    assert len(record["candidate_scores"]) == 3
    assert record["clap_score"] == pytest.approx(max(record["candidate_scores"]), abs=1e-6)
    assert record["alternatives"] == [str(tmp_path / "dog.2.wav"), str(tmp_path / "dog.3.wav")]
    assert all(Path(p).exists() for p in record["alternatives"])


def test_prompts_file_batch_flac_jsonl(run, shared_generator, tmp_path: Path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("rain on a roof\n\na dog barking\nwind in trees\n")
    out = tmp_path / "out"
    result = run(["generate", "--prompts-file", prompts, *BASE, "--seed", 1, "--output-dir", out,
                  "--format", "flac,jsonl", "--batch-size", 2])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["001-rain-on-a-roof.flac", "002-a-dog-barking.flac", "003-wind-in-trees.flac"]
    assert [r["prompt"] for r in records] == ["rain on a roof", "a dog barking", "wind in trees"]
    assert all(sf.info(str(out / n)).format == "FLAC" for n in names)


def test_failing_prompt_exit_3_others_written(run, shared_generator, exploding_prompts, tmp_path: Path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("rain\nexplode now\nwind\n")
    result = run(["generate", "-p", prompts, *BASE, "-d", tmp_path / "out", "-f", "json"])
    assert result.exit_code == 3
    assert "explode now" in result.stderr and "boom" in result.stderr
    records = json.loads(result.stdout)
    assert [("error" in r) for r in records] == [False, True, False]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["001-rain.wav", "003-wind.wav"]


def test_sample_rate_ogg_and_tags(run, shared_generator, tmp_path: Path):
    out = tmp_path / "bell.ogg"
    result = run(["generate", "a bell", *BASE, "--seed", 2, "--sample-rate", 44100, "--tags", "-o", out])
    assert result.exit_code == 0, result.stderr
    info = sf.info(str(out))
    assert (info.samplerate, info.frames, info.format) == (44100, 22050, "OGG")
    with sf.SoundFile(str(out)) as sound:
        assert sound.title == "a bell"
        comment = json.loads(sound.comment)
    assert comment["seed"] == 2 and comment["steps"] == STEPS and comment["sample_rate"] == 44100


def test_wav_tags(run, shared_generator, tmp_path: Path):
    out = tmp_path / "x.wav"
    assert run(["generate", "soft piano", *BASE, "--seed", 2, "--tags", "-o", out]).exit_code == 0
    with sf.SoundFile(str(out)) as sound:
        assert sound.title == "soft piano" and json.loads(sound.comment)["model"]


def test_default_name_from_prompt(run, shared_generator, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(["generate", "Rain, in a Forest!", *BASE])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "rain-in-a-forest.wav").exists()


@pytest.mark.parametrize("args,code,message", [
    (["generate", ""], 2, "empty"),
    (["generate"], 2, "give a prompt"),
    (["generate", "x", "--seconds", "-1"], 2, "positive"),
    (["generate", "x", "--seconds", "100"], 2, "longer than"),
    (["generate", "x", "--steps", "0"], 2, "--steps"),
    (["generate", "x", "--scheduler", "nope"], 2, "--scheduler"),
    (["generate", "x", "--transcription", "hello"], 2, "text-to-speech"),
    (["generate", "x", "--format", "mp3"], 2, "--format"),
    (["generate", "a", "b", "-o", "one.wav"], 2, "--output-dir"),
    (["generate", "x", "-o", "x.flac", "--format", "wav"], 2, "contradicts"),
    (["generate", "x", "--keep-candidates"], 2, "--candidates"),
    (["generate", "x", "-o", "/no/such/dir/x.wav"], 1, "does not exist"),
])
def test_bad_inputs(run, shared_generator, tmp_path: Path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = run([*args, "--model", "tiny", "--quiet"])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_existing_output_needs_overwrite(run, shared_generator, tmp_path: Path):
    out = tmp_path / "x.wav"
    out.write_bytes(b"keep me")
    result = run(["generate", "x", *BASE, "-o", out])
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"keep me"
    assert not shared_generator  # refused before loading the model
    assert run(["generate", "x", *BASE, "-o", out, "--overwrite"]).exit_code == 0
    assert sf.info(str(out)).frames == 8000


def test_output_is_a_directory(run, shared_generator, tmp_path: Path):
    result = run(["generate", "x", *BASE, "-o", tmp_path])
    assert result.exit_code in (1, 2) and "Traceback" not in result.stderr


def test_ctrl_c_leaves_no_half_written_file(run, shared_generator, generator, tmp_path: Path, monkeypatch):
    import soundfile

    def interrupted(self, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(soundfile.SoundFile, "write", interrupted)
    out = tmp_path / "x.wav"
    result = run(["generate", "x", *BASE, "-o", out])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither x.wav nor its temporary file


def test_ctrl_c_during_denoising(run, shared_generator, generator, tmp_path: Path, monkeypatch):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generator.pipe.unet, "forward", stop)
    result = run(["generate", "x", *BASE, "-o", tmp_path / "x.wav"])
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_cpu_offload_on_cpu_is_a_usage_error(run, tiny_audioldm2: Path, tmp_path: Path):
    result = run(["generate", "x", "--model", tiny_audioldm2, "--device", "cpu", "--cpu-offload",
                  "-o", tmp_path / "x.wav"])
    assert result.exit_code == 2 and "--cpu-offload" in result.stderr


def test_real_load_from_directory(run, tiny_audioldm2: Path, tmp_path: Path):
    out = tmp_path / "x.wav"
    result = run(["generate", "x", "--model", tiny_audioldm2, "--device", "cpu", "--seconds", SECONDS,
                  "--steps", 1, "-o", out, "-f", "json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["model"] == str(tiny_audioldm2.resolve())


def test_help_does_not_import_torch():
    code = ("import sys; import clapcli.commands.generate as g; import typer; app = typer.Typer(); "
            "g.register(app); assert 'torch' not in sys.modules and 'diffusers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
