"""The CLI contract shell users and scripts rely on (issue 14): usage errors, closed pipes,
interruptions, exit codes, rows, quiet. Every test goes through the real parser (CliRunner over
``clapcli.cli.app``, or ``python -m clapcli`` in a subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "CLAPCLI_DEBUG": ""}


def _clap(*args: object, stdin: int | None = subprocess.DEVNULL, stdout=None, stderr=subprocess.PIPE,
          env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], stdin=stdin, stdout=stdout,
                          stderr=stderr, env=env or ENV, text=True, timeout=120)


# ---------------------------------------------------------------- 1. usage errors: exit 2, the parser's message


@pytest.mark.parametrize(("args", "message", "command"), [
    (["classify", "x.wav", "--labels", "a,b", "--top-k", "0"], "Invalid value for '--top-k'", "clap classify"),
    (["classify", "--bogus"], "No such option", "clap classify"),
    (["clasify"], "No such command 'clasify'", "clap"),
    (["retrieve"], "Missing argument", "clap retrieve"),
    (["--bogus"], "No such option", "clap"),
    (["embed", "--batch-size", "many"], "Invalid value for '--batch-size'", "clap embed"),
])
def test_usage_errors_exit_2_with_the_parsers_message(cli, args, message, command):
    result = cli(args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert f"Try '{command} --help' for help." in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert "╭" not in result.stderr  # plain text, not a box hard-wrapped at 80 columns


def test_usage_error_from_the_console_entry_point():
    done = _clap("classify", "--bogus")
    assert done.returncode == 2
    assert "No such option" in done.stderr and "--bogus" in done.stderr
    assert "classify --help' for help." in done.stderr


def test_our_own_usage_errors_exit_2_on_one_line(cli):
    result = cli(["embed", "--text", "a", "--engine", "ray", "-o", "shards"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["error: --engine ray embeds files; embed --text with the local "
                                                  "engine"]


def test_the_boundary_knows_both_clicks():
    """typer vendors its own click (typer._click) in recent versions: both sets of classes pass the boundary."""
    import click
    import typer

    from clapcli.cli import CLICK_ERRORS, PARSER_EXITS

    assert click.ClickException in CLICK_ERRORS and {typer.Exit, typer.Abort} <= set(PARSER_EXITS)
    vendored = getattr(typer, "_click", None)
    if vendored is not None:
        assert vendored.exceptions.ClickException in CLICK_ERRORS
        assert {getattr(vendored.exceptions, n, typer.Exit) for n in ("Exit", "Abort")} <= set(PARSER_EXITS)


# ---------------------------------------------------------------- 2. a closed stdout ends quietly, exit 0


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is gone: every write fails with EPIPE (like '| head' after it exits)."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize("args", [["models"], ["--help"], ["embed", "--help"]])
def test_closed_stdout_without_a_model(args):
    pipe = _closed_pipe()
    try:
        done = _clap(*args, stdout=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize("command", ["classify", "embed"])
def test_closed_stdout_with_a_model(command, tiny_clap, audio_files):
    extra = ["--labels", "a,b,c", "-f", "csv"] if command == "classify" else ["-f", "jsonl"]
    pipe = _closed_pipe()
    try:
        done = _clap(command, audio_files["wav_pcm_16"], audio_files["flac"], "-m", tiny_clap, "--device", "cpu",
                     *extra, stdout=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no 'BrokenPipeError', no 'Exception ignored'


def test_closed_pipe_keeps_what_a_db_run_stored(tiny_clap, audio_files, tmp_path):
    """stdout and stderr both closed ('2>&1 | head -1'): the closing note cannot be written, the run ends
    quietly, and the library has every file."""
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "ogg")]
    db = tmp_path / "lib.db"
    pipe = _closed_pipe()
    try:
        done = _clap("embed", *files, "--db", db, "-m", tiny_clap, "--device", "cpu", stdout=pipe, stderr=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 0
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:
        assert store.collection("default", create=False).count() == 3


def test_a_pipe_closing_mid_run_keeps_the_stored_rows(cli, tiny_clap, audio_files, tmp_path, monkeypatch):
    from clapcli.core import library as core_library

    def closed(*args):  # the reader goes away after two files (a failure line to a closed stderr, say)
        raise BrokenPipeError(32, "Broken pipe")

    _interrupt_after(monkeypatch, core_library, "encode_stream", 2, closed)
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "mp3", "ogg")]
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", *files, "--db", db])
    assert result.exit_code == 0 and result.stderr == ""
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:
        assert store.collection("default", create=False).count() == 2


# ---------------------------------------------------------------- 3. what was kept, on Ctrl-C / SIGTERM


def _interrupt_after(monkeypatch, module, name: str, count: int, signal_class) -> None:
    real = getattr(module, name)

    def interrupted(*args, **kwargs):
        for index, result in enumerate(real(*args, **kwargs)):
            if index == count:
                raise signal_class()
            yield result

    monkeypatch.setattr(module, name, interrupted)


def test_sigterm_says_how_many_rows_were_kept(cli, tiny_clap, audio_files, tmp_path, monkeypatch):
    from clapcli.core import embed as core_embed
    from clapcli.errors import Terminated

    _interrupt_after(monkeypatch, core_embed, "embed_media", 2, Terminated)
    out = tmp_path / "out.parquet"
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "mp3", "ogg")]
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", *files, "--output", out])
    assert result.exit_code == 143
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: terminated: 2 of 4 embeddings written to {out}; rerun with --overwrite to redo "
                     "all of them"]
    import pyarrow.parquet as pq

    assert pq.read_table(out).column("path").to_pylist() == [str(f) for f in files[:2]]


def test_ctrl_c_before_any_row(cli, tiny_clap, audio_files, tmp_path, monkeypatch):
    from clapcli.core import embed as core_embed

    _interrupt_after(monkeypatch, core_embed, "embed_media", 0, KeyboardInterrupt)
    out = tmp_path / "out.csv"
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", audio_files["flac"], "--output", out])
    assert result.exit_code == 130
    assert f"interrupted: nothing was written to {out}" in result.stderr
    assert not out.exists()


def test_ctrl_c_of_a_db_run_says_a_rerun_resumes(cli, tiny_clap, audio_files, tmp_path, monkeypatch):
    from clapcli.core import library as core_library

    _interrupt_after(monkeypatch, core_library, "encode_stream", 2, KeyboardInterrupt)
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "mp3", "ogg")]
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", *files, "--db", db])
    assert result.exit_code == 130
    assert f"interrupted: 2 new embeddings were stored in {db} 'default' (2 files in it); rerun the same " \
           "command to resume" in result.stderr
    monkeypatch.undo()
    again = cli(["embed", "--device", "cpu", *files, "--db", db])  # no --model: the collection's
    assert again.exit_code == 0, again.stderr
    assert "2 added, 0 updated, 2 unchanged; 4 files in the collection" in again.stderr


# ---------------------------------------------------------------- 5. rows and exit codes


def test_every_embed_row_has_the_same_columns(cli, tiny_clap, audio_files, tmp_path):
    wav = audio_files["wav_pcm_16"]
    common = ["embed", "-m", tiny_clap, "--device", "cpu", wav, "--text", "a dog"]
    rows = list(csv.DictReader(io.StringIO(cli([*common, "-f", "csv"]).stdout)))
    assert list(rows[0])[:5] == ["path", "text", "kind", "duration", "model"]
    assert [(r["path"], r["text"], r["kind"]) for r in rows] == [("", "a dog", "text"), (str(wav), "", "audio")]
    for fmt in ("jsonl", "json"):
        stdout = cli([*common, "-f", fmt]).stdout
        records = json.loads(stdout) if fmt == "json" else [json.loads(line) for line in stdout.splitlines()]
        assert [list(r)[:5] for r in records] == [["path", "text", "kind", "duration", "model"]] * 2
        assert [(r["path"], r["text"]) for r in records] == [(None, "a dog"), (str(wav), None)]


def test_every_input_failed_exits_1(cli, tiny_clap, broken_files, tmp_path):
    result = cli(["classify", "-m", tiny_clap, "--device", "cpu", broken_files["truncated"], tmp_path / "gone.wav",
                  "--labels", "a,b"])
    assert result.exit_code == 1
    assert "error: every input failed (2 inputs, each named above)" in result.stderr
    assert result.stderr.count("failed: ") == 2


def test_some_inputs_failed_exits_3(cli, tiny_clap, audio_files, tmp_path):
    result = cli(["classify", "-m", tiny_clap, "--device", "cpu", audio_files["flac"], tmp_path / "gone.wav",
                  "--labels", "a,b", "-f", "csv"])
    assert result.exit_code == 3
    assert "1 input classified, 1 failed in " in result.stderr  # singular, with the seconds


def test_empty_stdin_for_dash_is_a_usage_error(cli, tiny_clap):
    result = cli(["embed", "-", "-m", tiny_clap, "--device", "cpu"], input="\n\n")
    assert result.exit_code == 2
    assert "'-' reads paths from stdin, one per line, but stdin was empty" in result.stderr


def test_label_files_skip_blank_lines_and_comments(cli, tiny_clap, audio_files, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\ufeff# animals\ndog\n\n  # a comment too\ncat\n", encoding="utf-8")
    result = cli(["classify", "-m", tiny_clap, "--device", "cpu", audio_files["flac"], "--labels-file", labels,
                  "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p["label"] for p in json.loads(result.stdout)["predictions"]) == ["cat", "dog"]


def test_summary_line_names_seconds_and_quiet_silences_it(cli, tiny_clap, audio_files):
    common = ["classify", "-m", tiny_clap, "--device", "cpu", audio_files["flac"], "--labels", "a,b", "-f", "csv"]
    loud = cli(common)
    assert loud.exit_code == 0
    summary = loud.stderr.strip().splitlines()[-1]
    assert summary.startswith("1 input classified in ") and " s" in summary
    quiet = cli([*common, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


# ---------------------------------------------------------------- 4. --quiet is quiet; library noise folded


def _warn_during_embedding(monkeypatch):
    import warnings

    from clapcli.core import embed as core_embed

    real = core_embed.embed_media

    def noisy(*args, **kwargs):
        warnings.warn("`some_arg` is deprecated\nand will be removed in v6", FutureWarning, stacklevel=1)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(core_embed, "embed_media", noisy)


def test_library_warnings_are_one_line_and_gone_with_quiet(cli, tiny_clap, audio_files, monkeypatch):
    import warnings

    _warn_during_embedding(monkeypatch)
    common = ["embed", "-m", tiny_clap, "--device", "cpu", audio_files["flac"], "-f", "jsonl"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        loud = cli(common)
        quiet = cli([*common, "--quiet"])
        again = cli(common)  # --quiet of the previous run does not stick
    assert loud.exit_code == 0 and quiet.exit_code == 0
    lines = loud.stderr.strip().splitlines()
    assert lines[0] == "warning: `some_arg` is deprecated (FutureWarning from test_cli_contract.py)"
    assert lines[1].startswith("1 embedding written in ") and len(lines) == 2
    assert quiet.stderr == ""
    assert again.stderr.startswith("warning: `some_arg` is deprecated")
    assert os.environ.get("TRANSFORMERS_VERBOSITY") != "error"


def test_quiet_turns_library_progress_bars_and_logs_off(tmp_path):
    script = ("import os, sys; from clapcli.cli import main\n"
              "sys.argv = ['clap', 'embed', '--quiet', '--text', 'a', '--format', 'xml']\n"
              "import atexit; atexit.register(lambda: print(os.environ.get('HF_HUB_DISABLE_PROGRESS_BARS'), "
              "os.environ.get('TRANSFORMERS_VERBOSITY'), file=sys.stderr))\nmain()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "1 error"  # set at parse time, before any library import


def test_messages_to_a_pipe_are_not_wrapped(tiny_clap, tmp_path):
    long_name = tmp_path / ("a-very-long-file-name-" * 8 + ".wav")
    done = _clap("classify", long_name, "--labels", "a,b", "-m", tiny_clap, "--device", "cpu",
                 env={**ENV, "COLUMNS": "80"})
    assert done.returncode == 1
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [f"failed: {long_name}: no such file or directory"]


# ---------------------------------------------------------------- 7. retrieve leaves the query out; 8. library


@pytest.fixture()
def small_library(cli, tiny_clap, audio_files, tmp_path):
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "ogg", "mp3")]
    assert cli(["embed", *files, "--db", db, "-m", tiny_clap, "--device", "cpu", "-q"]).exit_code == 0
    return db, files


def _hits(result) -> list[list[str]]:
    return [row[1:] for row in csv.reader(io.StringIO(result.stdout))][1:]


def test_audio_query_leaves_itself_out_unless_include_self(cli, small_library):
    db, files = small_library
    query = files[1]
    plain = cli(["retrieve", query, "--db", db, "-k", "2", "-f", "csv"])
    with_self = cli(["retrieve", query, "--db", db, "-k", "2", "-f", "csv", "--include-self"])
    assert plain.exit_code == 0 and with_self.exit_code == 0, plain.stderr
    assert [(r[0], r[2]) for r in _hits(with_self)][0] == ("1", str(query))  # itself first, cosine 1
    assert str(query) not in [r[2] for r in _hits(plain)]
    assert [r[0] for r in _hits(plain)] == ["1", "2"]
    assert _hits(plain)[0][2] == _hits(with_self)[1][2]  # the next best moves up


def test_library_list_info_prune_rm(cli, small_library, tmp_path):
    db, files = small_library
    listed = cli(["library", "list", "--db", db, "-f", "json"])
    assert listed.exit_code == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert (entry["collection"], entry["rows"], entry["dim"], entry["kind"]) == ("default", 4, 16, "files")
    assert entry["bytes"] > 4 * 16 * 4 and entry["updated"].endswith("+00:00")
    info = json.loads(cli(["library", "info", "default", "--db", db, "-f", "json"]).stdout)[0]
    assert info["db"] == str(db) and info["db_bytes"] >= db.stat().st_size

    # prune: rows of files that are gone (the library stores absolute paths)
    gone = tmp_path / "gone.wav"
    gone.write_bytes(files[0].read_bytes())
    assert cli(["embed", gone, "--db", db, "--device", "cpu", "-q"]).exit_code == 0  # the collection's model
    gone.unlink()
    pruned = cli(["library", "prune", "--db", db])
    assert pruned.exit_code == 0 and f"{db} 'default': 1 row of missing files pruned" in pruned.stderr

    unknown = cli(["library", "rm", "drums", "--db", db])
    assert unknown.exit_code == 2 and "has no collection 'drums' (collections: default)" in unknown.stderr
    removed = cli(["library", "rm", "default", "--db", db, "--yes"])
    assert removed.exit_code == 0 and "collection 'default' removed (4 rows)" in removed.stderr
    assert cli(["library", "list", "--db", db, "-f", "csv"]).stdout.strip() == \
        "collection,model,dim,kind,rows,bytes,updated"


def test_shell_completion(cli):
    from typer.testing import CliRunner

    from clapcli.cli import app

    def complete(words: str, index: int) -> list[str]:
        env = {"_CLAP_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(index)}
        result = CliRunner().invoke(app, [], env=env, prog_name="clap")
        assert result.exit_code == 0
        return result.stdout.split()

    assert complete("clap cla", 1) == ["classify"]
    assert complete("clap library p", 2) == ["prune"]
    assert "--precision" in complete("clap embed --prec", 2)
    assert "--install-completion" in cli(["--help"]).stdout


# ---------------------------------------------------------------- 6. choices are enums the parser checks


def test_choices_are_validated_and_listed(cli, tiny_clap):
    bad = cli(["embed", "--text", "a", "--dtype", "float64"])
    assert bad.exit_code == 2
    assert "Invalid value for '--dtype'" in bad.stderr and "'bfloat16'" in bad.stderr
    assert cli(["classify", "x.wav", "--labels", "a", "--long-audio", "tail"]).exit_code == 2
    assert cli(["classify", "x.wav", "--labels", "a", "--quantize", "int4"]).exit_code == 2
    ok = cli(["embed", "--text", "a", "--precision", "EXACT", "--long-audio", "Head", "-m", tiny_clap, "-q"])
    assert ok.exit_code == 0, ok.stderr  # case does not matter; commands get the plain string
    assert json.loads(ok.stdout)["text"] == "a"
    assert "exact|fast|bfloat16|float16|int8" in cli(["embed", "--help"], env={"COLUMNS": "250"}).stdout
    assert cli(["embed", "--text", "a", "--precision", "turbo"]).exit_code == 2


# ---------------------------------------------------------------- 8. clap download; the offline message


def _fake_cached_repo(cache: Path, repo_id: str) -> Path:
    """A checkpoint as huggingface_hub lays it out in its cache (refs/main -> snapshots/<commit>)."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    return snapshot


def test_download_offline(tmp_path):
    cache = tmp_path / "hub"
    snapshot = _fake_cached_repo(cache, "laion/clap-htsat-unfused")
    env = {**ENV, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    cached = _clap("download", "laion/clap-htsat-unfused", env=env)
    assert cached.returncode == 0, cached.stderr
    assert cached.stderr.strip() == f"laion/clap-htsat-unfused: already in the cache at {snapshot}"
    both = _clap("download", "laion/clap-htsat-unfused", "music", env=env)  # 'music': laion/larger_clap_music
    assert both.returncode == 3
    assert ("failed: music: 'laion/larger_clap_music' is not in the cache, and HF_HUB_OFFLINE is set: unset it "
            "to download") in both.stderr
    local = _clap("download", tmp_path, env=env)
    assert local.returncode == 1 and "is a local directory; there is nothing to download" in local.stderr


def test_offline_model_error_names_clap_download(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = cli(["embed", "--text", "a", "--model", "someone/not-cached-clap"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "not in the local cache" in line and "'clap download someone/not-cached-clap'" in line
    assert "HF_HUB_OFFLINE=1" in line


# ---------------------------------------------------------------- 9. audio bytes on stdin are one input


def test_audio_bytes_on_stdin_are_one_input(tiny_clap, audio_files):
    flac = audio_files["flac"]
    common = ["classify", "--labels", "dog,rain,music", "-m", tiny_clap, "--device", "cpu", "-f", "csv", "-q"]
    by_path = _clap(*common, flac, stdout=subprocess.PIPE)
    with open(flac, "rb") as handle:
        by_bytes = subprocess.run([sys.executable, "-m", "clapcli", *map(str, common), "-"], stdin=handle,
                                  capture_output=True, env=ENV, timeout=120)
    assert by_path.returncode == 0 and by_bytes.returncode == 0, by_bytes.stderr
    rows = list(csv.DictReader(io.StringIO(by_bytes.stdout.decode())))
    assert {r["path"] for r in rows} == {"<stdin>"}
    expected = list(csv.DictReader(io.StringIO(by_path.stdout)))
    assert [(r["label"], r["score"]) for r in rows] == [(r["label"], r["score"]) for r in expected]


def test_garbage_bytes_on_stdin_fail_as_one_input(cli, tiny_clap, audio_files):
    from typer.testing import CliRunner

    from clapcli.cli import app

    result = CliRunner().invoke(app, ["embed", "-", "-m", str(tiny_clap), "--device", "cpu"],
                                input=b"\x00\x01binary junk" * 50)
    assert result.exit_code == 1
    assert "failed: <stdin>: not a readable audio file" in result.stderr
    paths = cli(["embed", "-", "-m", tiny_clap, "--device", "cpu", "-q"], input=f"{audio_files['flac']}\n")
    assert paths.exit_code == 0 and json.loads(paths.stdout)["path"] == str(audio_files["flac"])  # a path list


def test_captions_file_and_its_old_spelling(cli, tiny_clap, audio_files, tmp_path):
    captions = tmp_path / "captions.txt"
    captions.write_text("# captions\ndog barking\n\nrain on a roof\n")
    common = ["retrieve", audio_files["flac"], "-k", "2", "-m", tiny_clap, "--device", "cpu", "-f", "csv"]
    new = cli([*common, "--captions-file", captions])
    old = cli([*common, "--captions", captions])
    assert new.exit_code == 0 and old.exit_code == 0, new.stderr
    assert new.stdout == old.stdout and {r["text"] for r in csv.DictReader(io.StringIO(new.stdout))} == \
        {"dog barking", "rain on a roof"}
    assert new.stderr == ""
    assert "warning: --captions is now --captions-file" in old.stderr
    assert "--captions " not in cli(["retrieve", "--help"], env={"COLUMNS": "250"}).stdout  # hidden


def test_a_device_from_the_environment_is_named_as_such(cli, tiny_clap, audio_files):
    args = ["classify", audio_files["flac"], "--labels", "a,b", "-m", tiny_clap]
    from_env = cli(args, env={"CLAPCLI_DEVICE": "cuda:99"})
    assert from_env.exit_code == 2
    (line,) = from_env.stderr.strip().splitlines()
    assert line.startswith("error: CLAPCLI_DEVICE=cuda:99: ") and "--device cuda" not in line
    from_option = cli([*args, "--device", "cuda:99"])
    assert from_option.exit_code == 2 and from_option.stderr.startswith("error: --device cuda:99: ")


def test_the_ambiguous_music_alias_warns_and_the_new_ones_do_not(cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # resolving is all this test needs; loading then fails offline
    old = cli(["embed", "--text", "a", "-m", "music"])
    new = cli(["embed", "--text", "a", "-m", "clap-music"])
    assert old.exit_code == 1 and new.exit_code == 1
    assert old.stderr.startswith("warning: alias 'music' means laion/larger_clap_music here but another model "
                                 "elsewhere; say clap-music (embed, classify, retrieve) or audioldm2-music (generate)")
    assert "warning" not in new.stderr and "'clap download laion/larger_clap_music'" in new.stderr
    listed = cli(["models", "-f", "csv"]).stdout
    assert "clap-music,laion/larger_clap_music" in listed and "audioldm2-music,cvssp/audioldm2-music" in listed
