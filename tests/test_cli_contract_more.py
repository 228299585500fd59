"""The CLI contract, continued (issue 14): every choice option is an enum that --help lists and the
parser validates (case-insensitive, commands get plain strings); generate's short flags do not clash
with the other commands'; rich tables keep paths whole on an 80-column terminal. Through the real parser."""

from __future__ import annotations

import json

import pytest

from clapcli.commands import options

WIDE = {"COLUMNS": "250"}


def test_the_literal_choices_match_what_core_and_the_writers_accept():
    from clapcli.commands.convert import FORMATS as CONVERT
    from clapcli.commands.eval import TABLE_FORMATS
    from clapcli.commands.ray_embed import ENGINES
    from clapcli.core.generate import SCHEDULERS
    from clapcli.core.generate.output import AUDIO_FORMATS
    from clapcli.io.writers import EMBEDDING_FORMATS, RECORD_FORMATS
    from clapcli.io.writers.events import EVENT_FORMATS
    from clapcli.models.runtime import FORMATS as EXPORT

    assert options.RECORD_FORMATS == RECORD_FORMATS
    assert options.EMBEDDING_FORMATS == EMBEDDING_FORMATS
    assert options.EVENT_FORMATS == EVENT_FORMATS
    assert options.EVAL_FORMATS == TABLE_FORMATS
    assert options.ENGINES == ENGINES
    assert options.SCHEDULERS == tuple(SCHEDULERS)
    assert options.GENERATE_FORMATS == AUDIO_FORMATS + ("json", "jsonl")
    assert options.EXPORT_FORMATS == EXPORT
    assert options.CONVERT_FORMATS == CONVERT


@pytest.mark.parametrize(("args", "option", "listed"), [
    (["embed", "--text", "a", "--engine", "spark"], "--engine", "local|ray"),
    (["embed", "--text", "a", "--format", "xml"], "--format", "jsonl|json|csv|npy|parquet|safetensors"),
    (["classify", "x.wav", "--labels", "a", "--format", "xml"], "--format", "table|csv|json|jsonl"),
    (["retrieve", "--db", "x.db", "--text", "q", "--format", "xml"], "--format", "table|csv|json|jsonl"),
    (["models", "--format", "xml"], "--format", "table|csv|json|jsonl"),
    (["library", "list", "--format", "xml"], "--format", "table|csv|json|jsonl"),
    (["detect", "x.wav", "--labels", "a", "--format", "srt"], "--format", "audacity|raven|webvtt"),
    (["eval", "classify", "x.csv", "--format", "xml"], "--format", "table|csv|json|markdown|md"),
    (["export", "m", "d", "--format", "tflite"], "--format", "openvino|onnx"),
    (["convert", "msclap", "a.pth", "out", "--format", "xml"], "--format", "text|json"),
    (["generate", "a dog", "--scheduler", "karras"], "--scheduler", "dpm|dpm-sde|ddim|unipc|euler|euler-a"),
    (["generate", "a dog", "--format", "wav,mp3"], "--format", "wav|flac|ogg|json|jsonl"),
])
def test_a_wrong_choice_is_a_usage_error_and_help_lists_the_choices(cli, args, option, listed):
    result = cli(args)
    assert result.exit_code == 2, result.stderr
    assert f"Invalid value for '{option}'" in result.stderr
    command = args[:2] if args[0] in ("library", "eval") else args[:1]
    assert listed in cli([*command, "--help"], env=WIDE).stdout


def test_choices_ignore_case_and_commands_get_plain_strings(cli, tiny_clap):
    result = cli(["embed", "--text", "a dog", "-m", tiny_clap, "--format", "JSONL", "--engine", "Local", "-q"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "a dog"
    models = cli(["models", "--format", "CSV"])
    assert models.exit_code == 0 and models.stdout.startswith("alias,model,used_by")


def test_generate_format_parts_are_checked_and_lowered():
    check = options.comma_choices(options.GENERATE_FORMATS, "--format")
    assert check(["WAV,json", "flac"]) == ["wav", "json", "flac"]
    assert check(None) is None
