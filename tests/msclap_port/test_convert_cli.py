"""``clap convert`` through the CLI: success report and every error path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from msclap_reference import requires_reference
from typer.testing import CliRunner

from clapcli.cli import app

pytestmark = requires_reference
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["convert", *map(str, args)])


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def _saved_variant(tmp_path: Path, original_path: Path, change) -> Path:
    checkpoint = torch.load(original_path, weights_only=True)
    change(checkpoint["model"])
    path = tmp_path / "variant.pth"
    torch.save(checkpoint, path)
    return path


def test_convert_msclap_json_report(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    output = tmp_path / "ms-clap-hf"
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    original_keys = set(msclap_original[0].state_dict())
    assert report["family"] == "msclap"
    assert report["parameters"]["total"] == sum(v for k, v in report["parameters"].items() if k != "total")
    dropped = set(report["dropped_keys"])
    assert "audio_encoder.base.htsat.logmel_extractor.melW" in dropped
    assert "audio_encoder.base.htsat.tscam_conv.weight" in dropped
    assert dropped <= original_keys
    # qkv is split in three, so the HF side has more keys than the original's kept ones.
    assert report["mapped_keys"] > len(original_keys - dropped)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json"):
        assert (output / name).is_file()
    assert json.loads((output / "config.json").read_text())["model_type"] == "msclap"


def test_convert_text_report_on_stderr(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    result = _run("msclap", msclap_original[1], tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "parameters:" in result.stderr and "dropped" in result.stderr


def test_missing_checkpoint(tmp_path) -> None:
    result = _run("msclap", tmp_path / "nope.pth", tmp_path / "out")
    assert result.exit_code == 1
    assert len(_error_lines(result)) == 1 and "does not exist" in result.stderr


class _Payload:
    """Unpickling this would create a marker file: the converter must never do it."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_with_code_is_refused_and_not_run(tmp_path) -> None:
    payload = _Payload()
    payload.marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({"model": payload}, path)
    result = _run("msclap", path, tmp_path / "out")
    assert result.exit_code == 1
    assert len(_error_lines(result)) == 1 and "arbitrary Python code" in result.stderr
    assert not payload.marker.exists()
    assert not (tmp_path / "out").exists()


def test_unexpected_key(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    path = _saved_variant(tmp_path, msclap_original[1], lambda sd: sd.update({"extra.weight": torch.zeros(2)}))
    result = _run("msclap", path, tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir)
    assert result.exit_code == 1
    assert len(_error_lines(result)) == 1 and "unexpected key" in result.stderr and "extra.weight" in result.stderr


def test_missing_key(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    path = _saved_variant(tmp_path, msclap_original[1], lambda sd: sd.pop("caption_encoder.projection.linear2.weight"))
    result = _run("msclap", path, tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir)
    assert result.exit_code == 1
    assert "text_projection.linear2.weight" in result.stderr and len(_error_lines(result)) == 1


def test_existing_output_needs_overwrite(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir)
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert (output / "keep.txt").read_text() == "mine"
    # --overwrite replaces only a directory clap convert wrote (tests/msclap_port/test_safety_convert.py)
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1 and "not written by clap convert" in result.stderr
    assert (output / "keep.txt").read_text() == "mine" and not (output / "config.json").exists()
    (output / "keep.txt").unlink()
    for _ in range(2):  # an empty directory, then the converted one, are replaced
        result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
        assert result.exit_code == 0, result.stderr
        assert (output / "config.json").is_file()


def test_offline_without_tokenizer(msclap_original, tmp_path) -> None:
    result = _run("msclap", msclap_original[1], tmp_path / "out", "--tokenizer", tmp_path / "no-tokenizer")
    assert result.exit_code == 1
    assert "--tokenizer" in result.stderr and len(_error_lines(result)) == 1


def test_fused_checkpoint_without_flag(laion_fused_original, roberta_tokenizer_dir, tmp_path) -> None:
    result = _run("laion", laion_fused_original[1], tmp_path / "out", "--tokenizer", roberta_tokenizer_dir)
    assert result.exit_code == 1
    assert "unexpected key" in result.stderr and "--fused" in result.stderr


def test_amodel_mismatch(laion_unfused_original, roberta_tokenizer_dir, tmp_path) -> None:
    result = _run("laion", laion_unfused_original[1], tmp_path / "out", "--tokenizer", roberta_tokenizer_dir,
                  "--amodel", "HTSAT-base")
    assert result.exit_code == 1 and "HTSAT-base" in result.stderr


@pytest.mark.parametrize("args", [["bogus"], ["msclap", "--fused"], ["msclap", "--format", "xml"]])
def test_usage_errors(args, msclap_original, tmp_path) -> None:
    family, *options = args
    result = _run(family, msclap_original[1], tmp_path / "out", *options)
    assert result.exit_code == 2


def test_embed_and_classify_with_converted_model(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    import soundfile as sf

    output = tmp_path / "ms-hf"
    assert _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir).exit_code == 0
    clip = tmp_path / "noise.wav"
    sf.write(clip, (0.1 * torch.randn(44100 * 2)).numpy(), 44100)
    result = runner.invoke(app, ["embed", str(clip), "--model", str(output), "--format", "jsonl", "--quiet"])
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    vector = next(v for v in row.values() if isinstance(v, list))
    assert len(vector) == 48
    result = runner.invoke(app, ["classify", str(clip), "--model", str(output), "--labels", "dog,rain",
                                 "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert "dog" in result.stdout and "rain" in result.stdout


def test_numpy_scalars_beside_weights_are_accepted(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    import numpy as np

    checkpoint = torch.load(msclap_original[1], weights_only=True)
    checkpoint.update(best_score=np.float64(0.25), epoch=np.int64(45))
    path = tmp_path / "with-numpy.pth"
    torch.save(checkpoint, path)
    result = _run("msclap", path, tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["mapped_keys"] > 0


def test_hub_release_without_gpt2_tokenizer_offline(msclap_original, tmp_path, monkeypatch) -> None:
    from clapcli.errors import ModelLoadError
    from clapcli.models import hub
    from clapcli.models.conversion.on_first_use import ensure_converted

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(hub, "fetch_file", lambda ref, name, required=True: msclap_original[1])
    with pytest.raises(ModelLoadError) as error:
        ensure_converted(hub.ModelRef("msclap-2023", "microsoft/msclap", False))
    message = str(error.value)
    assert "\n" not in message and "GPT-2 tokenizer" in message and "clap convert msclap" in message
    assert not (tmp_path / "home" / "converted" / "microsoft--msclap" / "config.json").exists()


def _checkpoint_with_tokenizer(tmp_path: Path, checkpoint: Path, tokenizer_dir: Path) -> Path:
    """An original .pth with a GPT-2 tokenizer saved beside it (how offline users skip the hub)."""
    import shutil

    folder = tmp_path / "release"
    shutil.copytree(tokenizer_dir, folder)
    shutil.copy(checkpoint, folder / "CLAP_weights_2023.pth")
    return folder / "CLAP_weights_2023.pth"


def test_embed_with_original_pth_notes_the_conversion_once(msclap_original, gpt2_tokenizer_dir, tmp_path,
                                                           monkeypatch) -> None:
    import soundfile as sf

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    checkpoint = _checkpoint_with_tokenizer(tmp_path, msclap_original[1], gpt2_tokenizer_dir)
    clip = tmp_path / "noise.wav"
    sf.write(clip, (0.1 * torch.randn(44100)).numpy(), 44100)
    args = ["embed", str(clip), "-m", str(checkpoint), "--format", "jsonl"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if "converting original MS-CLAP checkpoint" in line]
    assert len(notes) == 1 and "once into" in notes[0] and str(tmp_path / "home" / "converted") in notes[0]
    assert len(json.loads(first.stdout.splitlines()[0])["embedding"]) == 48
    second = runner.invoke(app, args)  # served from the cache: no conversion, no note
    assert second.exit_code == 0, second.stderr
    assert "converting" not in second.stderr and second.stdout == first.stdout


def test_non_tokenizer_errors_of_auto_conversion_pass_through(msclap_original, gpt2_tokenizer_dir, tmp_path,
                                                              monkeypatch) -> None:
    """Only TokenizerUnavailable becomes the "needs the GPT-2 tokenizer" hint; a bad checkpoint says so."""
    from clapcli.errors import ModelLoadError
    from clapcli.models.conversion.on_first_use import ensure_converted
    from clapcli.models.hub import ModelRef

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    bad = _saved_variant(tmp_path, msclap_original[1], lambda sd: sd.update({"extra.weight": torch.zeros(2)}))
    checkpoint = _checkpoint_with_tokenizer(tmp_path, bad, gpt2_tokenizer_dir)
    with pytest.raises(ModelLoadError) as error:
        ensure_converted(ModelRef(str(checkpoint), str(checkpoint), True))
    assert "unexpected key" in str(error.value) and "extra.weight" in str(error.value)
    assert "GPT-2 tokenizer" not in str(error.value)


def test_auto_conversion_logs_instead_of_printing(msclap_original, gpt2_tokenizer_dir, tmp_path, monkeypatch,
                                                  caplog, capsys) -> None:
    """Library use: the models layer prints nothing; the note is an INFO record of the clapcli logger."""
    import logging

    from clapcli.models.conversion.on_first_use import ensure_converted
    from clapcli.models.hub import ModelRef

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(logging.getLogger("clapcli"), "handlers", [])  # as if the CLI never ran in this process
    checkpoint = _checkpoint_with_tokenizer(tmp_path, msclap_original[1], gpt2_tokenizer_dir)
    with caplog.at_level(logging.INFO, logger="clapcli"):
        ref = ensure_converted(ModelRef(str(checkpoint), str(checkpoint), True))
    assert (Path(ref.location) / "config.json").is_file()
    records = [r for r in caplog.records if r.name.startswith("clapcli")]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    assert records[0].getMessage().startswith(f"converting original MS-CLAP checkpoint {checkpoint} once into ")
    assert capsys.readouterr() == ("", "")


def test_fused_on_msclap_names_the_family_it_applies_to(msclap_original, tmp_path) -> None:
    result = _run("msclap", msclap_original[1], tmp_path / "out", "--amodel", "HTSAT-tiny")
    assert result.exit_code == 2
    assert "--fused and --amodel apply to 'laion' checkpoints only" in result.stderr
