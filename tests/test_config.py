"""``clap config`` and ``clap models alias``, as a user meets them: a setting in the file applies to every
command, a variable wins over the file and a flag over both; a bad value is named where the user wrote it
(file or variable) in one line; user aliases work with --model in every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.settings import file as config_file


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "config.toml"
    monkeypatch.setenv("CLAPCLI_CONFIG", str(path))
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import soundfile as sf

    path = tmp_path_factory.mktemp("config-audio") / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return path


def test_set_get_list_unset_round_trip(cli, config):
    assert cli(["config", "set", "runtime", "TORCH"]).exit_code == 0
    assert config_file.tomllib.loads(config.read_text()) == {"runtime": "torch"}
    assert cli(["config", "get", "runtime"]).stdout == "torch\n"
    rows = [json.loads(line) for line in cli(["config", "list", "-f", "jsonl"]).stdout.splitlines()]
    by_key = {row["key"]: row for row in rows}
    assert set(by_key) == set(config_file.KEYS)
    assert by_key["runtime"]["source"] == "config file" and by_key["model"]["source"] == "default"
    assert cli(["config", "unset", "runtime"]).exit_code == 0
    assert cli(["config", "get", "runtime"]).stdout == "auto\n"
    assert "not set" in cli(["config", "unset", "runtime"]).stderr


def test_path_follows_clapcli_config(cli, config):
    assert cli(["config", "path"]).stdout.strip() == str(config)


def test_precedence_variable_over_file(cli, config, monkeypatch):
    cli(["config", "set", "runtime", "onnx"])
    monkeypatch.setenv("CLAPCLI_RUNTIME", "torch")
    assert cli(["config", "get", "runtime"]).stdout == "torch\n"
    result = cli(["config", "set", "runtime", "openvino"])
    assert result.exit_code == 0 and "CLAPCLI_RUNTIME=torch" in result.stderr and "wins over the file" in result.stderr


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("runtime", "gpu", "choose one of auto, torch, openvino, onnx"),
    ("hub_timeout", "soon", "give a number of seconds"),
    ("hub_timeout", "0", "give a number of seconds"),
    ("colour", "red", "unknown setting 'colour'"),
])
def test_bad_values_are_refused_before_writing(cli, config, key, value, expected):
    result = cli(["config", "set", key, value])
    assert result.exit_code == 2 and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not config.exists()


def test_the_file_sets_every_commands_default_model(cli, config, tiny_clap, wav):
    cli(["config", "set", "model", str(tiny_clap)])
    from_file = cli(["embed", wav, "-f", "jsonl"])
    flagged = cli(["embed", wav, "-f", "jsonl", "--model", str(tiny_clap)])
    assert from_file.exit_code == 0, from_file.stderr
    assert json.loads(from_file.stdout)["embedding"] == json.loads(flagged.stdout)["embedding"]


def test_the_file_sets_the_runtime_and_clap_models_says_so(cli, config):
    cli(["config", "set", "runtime", "torch"])
    rows = [json.loads(line) for line in cli(["models", "-f", "jsonl"]).stdout.splitlines()]
    assert all(row["runtime"] == "torch (set by the config file)" for row in rows if row["used_by"] != "generate")


def test_a_bad_file_is_named_in_one_line(cli, config, wav):
    config.parent.mkdir(parents=True)
    config.write_text('runtime = "gpu"\n')
    result = cli(["embed", wav])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: config file {config}: runtime = 'gpu': choose one of auto, torch, "
                                     "openvino, onnx; or 'clap config unset runtime'")
    config.write_text("[[[\n")
    result = cli(["models"])
    assert result.exit_code == 2 and f"config file {config}: not valid TOML" in result.stderr
    config.write_text('colour = "red"\n')
    assert "unknown setting 'colour'" in cli(["config", "list"]).stderr
    assert cli(["config", "unset", "colour"]).exit_code == 0  # a file with a stray key can be repaired
    assert cli(["config", "list"]).exit_code == 0


def test_a_bad_device_in_the_file_names_the_file(cli, config, tiny_clap, wav):
    cli(["config", "set", "device", "floppy"])
    result = cli(["embed", wav, "--model", str(tiny_clap)])
    assert result.exit_code == 2
    assert f"device = 'floppy' in {config}" in result.stderr and "clap config" in result.stderr


def test_an_interrupted_write_keeps_the_old_file(config, monkeypatch):
    from clapcli.core.config import set_value

    set_value("runtime", "torch")
    before = config.read_bytes()

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        set_value("runtime", "onnx")
    assert config.read_bytes() == before
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]


# --- user aliases --------------------------------------------------------------------------------

def test_an_alias_of_a_local_directory_works_from_any_folder(cli, config, tiny_clap, wav, tmp_path, monkeypatch):
    link = tmp_path / "models" / "birds"
    link.parent.mkdir()
    link.symlink_to(tiny_clap, target_is_directory=True)
    monkeypatch.chdir(link.parent)
    result = cli(["models", "alias", "add", "birds", "./birds"])
    assert result.exit_code == 0 and str(tiny_clap.resolve()) in result.stderr
    monkeypatch.chdir(tmp_path)
    by_alias = cli(["embed", wav, "-f", "jsonl", "--model", "birds"])
    by_path = cli(["embed", wav, "-f", "jsonl", "--model", str(tiny_clap)])
    assert by_alias.exit_code == 0, by_alias.stderr
    assert json.loads(by_alias.stdout)["embedding"] == json.loads(by_path.stdout)["embedding"]
    listed = [json.loads(line) for line in cli(["models", "alias", "list", "-f", "jsonl"]).stdout.splitlines()]
    assert listed == [{"alias": "birds", "model": str(tiny_clap.resolve())}]
    models = [json.loads(line) for line in cli(["models", "-f", "jsonl"]).stdout.splitlines()]
    assert models[0]["alias"] == "birds" and models[0]["source"] == "yours"


def test_alias_rules(cli, config, tiny_clap_fused):
    assert cli(["models", "alias", "add", "mine", "laion/larger_clap_general"]).exit_code == 0
    refused = {
        ("unfused", "x/y"): "is built in",
        ("a/b", "x/y"): "without '/'",
        ("mine", "x/y"): "--force points it at x/y",
        ("other", "./nowhere"): "does not exist",
        ("other", "nonsense"): "neither a directory",
    }
    for (name, target), expected in refused.items():
        result = cli(["models", "alias", "add", name, target])
        assert result.exit_code == 2 and expected in result.stderr, (name, result.stderr)
    assert cli(["models", "alias", "add", "mine", str(tiny_clap_fused), "--force"]).exit_code == 0
    assert config_file.read()["aliases"] == {"mine": str(tiny_clap_fused.resolve())}
    gone = cli(["models", "alias", "rm", "mine"])
    assert gone.exit_code == 0 and "it named" in gone.stderr
    missing = cli(["models", "alias", "rm", "mine"])
    assert missing.exit_code == 2 and "no user alias 'mine'" in missing.stderr


def test_an_alias_whose_directory_went_away_says_what_to_do(cli, config, tiny_clap, tmp_path, wav):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_clap, copy)
    cli(["models", "alias", "add", "gone", str(copy)])
    shutil.rmtree(copy)
    result = cli(["embed", wav, "--model", "gone"])
    assert result.exit_code != 0 and "alias 'gone' names the directory" in result.stderr
    assert "clap models alias rm gone" in result.stderr


def test_an_alias_of_a_builtin_alias_resolves_to_its_hub_id():
    from clapcli.models import registry
    from clapcli.models.hub import _resolve_user_alias

    ref = _resolve_user_alias("x", "msclap-2023", registry.EMBEDDING_ALIASES)
    assert ref.location == "microsoft/msclap" and not ref.is_local


def test_the_real_command_line_reads_the_file(config, tmp_path):
    """Through a real process, as a user types it (the file is read in the child)."""
    env = {**os.environ, "CLAPCLI_CONFIG": str(config)}
    run = [sys.executable, "-m", "clapcli", "config"]
    subprocess.run([*run, "set", "hub_timeout", "2.5"], env=env, check=True, capture_output=True)
    got = subprocess.run([*run, "get", "hub_timeout"], env=env, check=True, capture_output=True, text=True)
    assert got.stdout == "2.5\n"
