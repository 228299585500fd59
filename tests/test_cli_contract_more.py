"""The CLI contract, continued (issue 14): every choice option is an enum that --help lists and the
parser validates (case-insensitive, commands get plain strings); generate's short flags do not clash
with the other commands'; rich tables keep paths whole on an 80-column terminal. Through the real parser."""

from __future__ import annotations

import json

import pytest

from clapcli.console import options

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
    (["embed", "--text", "a", "--device", "tpu"], "--device", "auto|cpu|cuda|cuda:N|mps"),
    (["classify", "x.wav", "--labels", "a", "--device", "cuda:x"], "--device", "auto|cpu|cuda|cuda:N|mps"),
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


# ---------------------------------------------------------------- rich tables keep paths whole at 80 columns


def _render(rows: list[dict], columns: list[str], monkeypatch) -> list[str]:
    import io

    from clapcli.io.writers import record_writer

    monkeypatch.setenv("COLUMNS", "80")
    stream = io.StringIO()
    with record_writer("table", None, False, columns, stream=stream) as sink:
        for row in rows:
            sink.write(row)
    lines = stream.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    return lines


def _assert_whole_or_cut_at_the_start(path: str, lines: list[str]) -> None:
    """The path is on one line, whole, or as "…" + its end (the file name kept); no line holds a piece of
    it that is not that one cell."""
    holding = [line for line in lines if path[-12:] in line]
    assert len(holding) == 1, (path, lines)
    line = holding[0]
    if path not in line:
        cell = line[line.index("…"):].split(" ", 1)[0]
        assert path.endswith(cell[1:]) and len(cell) > 12, (path, line)
    for other in lines:
        if other is not line:
            assert path[:10] not in other or path[:10] in line, (path, other)


@pytest.mark.parametrize("label", ["dog", "a rather long label that has to fold over several lines of the table"])
def test_table_paths_are_never_split_across_lines(monkeypatch, label):
    paths = ["/data/recordings/2024/field-trip/very-long-directory-name-for-the-session/"
             "microphone-array-channel-03-take-0017.wav",
             "short.wav",
             "/tmp/" + "x" * 120 + "/ends-with-this-name.flac"]
    rows = [{"path": path, "rank": 1, "label": label, "score": 0.5} for path in paths]
    lines = _render(rows, ["path", "rank", "label", "score"], monkeypatch)
    for path in paths:
        _assert_whole_or_cut_at_the_start(path, lines)
    assert "short.wav" in "\n".join(lines)
    assert any("ends-with-this-name.flac" in line for line in lines)  # the file name survives the cut
    if label == "dog":
        assert sum("dog" in line for line in lines) == len(paths)  # one line per row: nothing folded
    else:
        assert "fold over" in "".join(lines).replace(" ", "") or "foldover" in "".join(lines).replace(" ", "")


def test_table_names_are_text_not_markup(monkeypatch):
    lines = _render([{"path": "[red]x[/red].wav", "label": "a", "score": 0.1}], ["path", "label", "score"],
                    monkeypatch)
    assert any("[red]x[/red].wav" in line for line in lines)


def test_classify_table_at_80_columns_keeps_the_path_whole(cli, tiny_clap, audio_files, tmp_path):
    import shutil

    folder = tmp_path / "a-directory-with-a-long-name-for-the-recordings-of-this-particular-session"
    folder.mkdir()
    path = str(shutil.copy(audio_files["flac"], folder / "a-long-file-name-microphone-array-take-0017.flac"))
    result = cli(["classify", path, "--labels", "a dog,rain", "-m", tiny_clap, "--format", "table", "-q"],
                 env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    _assert_whole_or_cut_at_the_start(path, lines)
    assert any("take-0017.flac" in line for line in lines)


def _visible_options():
    """(command path, short flag, long name) of every visible option of every subcommand."""
    import typer

    from clapcli.cli import app

    def walk(command, path):
        for param in getattr(command, "params", []):
            if getattr(param, "hidden", False) or not getattr(param, "opts", None):
                continue
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            for short in (o for o in param.opts if not o.startswith("--")):
                yield path, short, longs[0] if longs else short
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}".strip())

    return list(walk(typer.main.get_command(app), ""))


def test_a_short_flag_means_the_same_option_in_every_command():
    meaning: dict[str, set[str]] = {}
    for _, short, long in _visible_options():
        meaning.setdefault(short, set()).add(long)
    clashes = {short: longs for short, longs in meaning.items() if len(longs) > 1 and short != "-h"}
    assert clashes == {}
    assert meaning["-t"] == {"--text"} and meaning["-c"] == {"--collection"}
