"""`clap classify` and `clap embed` through the CLI: every option, error path and exit code."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest


def _classify(cli, tiny_clap, *args, input=None):
    return cli(["classify", "-m", tiny_clap, "--device", "cpu", *args], input=input)


def test_help_teaches(cli):
    result = cli(["classify", "--help"])
    assert result.exit_code == 0
    for text in ("--labels", "--expect", "Exit codes", "--long-audio"):
        assert text in result.stdout
    assert cli(["--version"]).stdout.startswith("clapcli ")


def test_help_shows_extras_and_current_defaults(cli):
    """Rich markup must not eat "[ray]"-style extras; documented defaults follow the code."""
    from clapcli.core.search import DEFAULT_PROBE_SHARE

    def flat(args: list[str]) -> str:  # the help text without rich's box borders and line breaks
        return " ".join(cli(args).stdout.replace("│", " ").split())

    embed_help, retrieve_help = flat(["embed", "--help"]), flat(["retrieve", "--help"])
    assert "needs clapcli[ray])" in embed_help
    assert "needs clapcli[faiss]." in retrieve_help
    assert f"Default: 1/{round(1 / DEFAULT_PROBE_SHARE)} of them" in retrieve_help


def test_classify_csv_default_when_piped(cli, tiny_clap, audio_files):
    result = _classify(cli, tiny_clap, audio_files["flac"], audio_files["mp3"], "--labels", "dog,rain,music")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["rank"] for r in rows] == ["1", "2", "3"] * 2
    assert {r["path"] for r in rows} == {str(audio_files["flac"]), str(audio_files["mp3"])}
    for path in {r["path"] for r in rows}:
        scores = [float(r["score"]) for r in rows if r["path"] == path]
        assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-4


def test_labels_repeatable_file_template_topk_and_table(cli, tiny_clap, audio_files, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat meowing\nsiren\n", encoding="utf-8")
    result = _classify(cli, tiny_clap, audio_files["ogg"], "-l", "dog", "-l", "rain,music", "--labels-file",
                       labels, "--template", "the sound of {}", "--top-k", "2", "--format", "jsonl")
    assert result.exit_code == 0
    row = json.loads(result.stdout)
    assert len(row["predictions"]) == 2 and row["duration"] == pytest.approx(1.0)
    assert {p["label"] for p in row["predictions"]} <= {"dog", "rain", "music", "cat meowing", "siren"}
    table = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--format", "table")
    assert "label" in table.stdout and "rain" in table.stdout and "─" in table.stdout


def test_template_changes_scores(cli, tiny_clap, audio_files):
    def score(template):
        result = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--format", "json",
                           "--template", template)
        return {p["label"]: p["score"] for p in json.loads(result.stdout)[0]["predictions"]}

    assert score("{}") != score("This is a sound of {}.")


def test_stdin_paths_and_partial_failure_exit_3(cli, tiny_clap, audio_files, broken_files):
    paths = f"{audio_files['flac']}\n{broken_files['truncated']}\n{audio_files['opus']}\n/nonexistent.wav\n"
    result = _classify(cli, tiny_clap, "-", "--labels", "speech,music,noise", "--format", "jsonl", input=paths)
    assert result.exit_code == 3
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows if "predictions" in r] == [str(audio_files["flac"]), str(audio_files["opus"])]
    errors = {r["path"]: r["error"] for r in rows if "error" in r}
    assert "not a readable audio file" in errors[str(broken_files["truncated"])]
    assert errors["/nonexistent.wav"] == "no such file or directory"
    assert f"failed: {broken_files['truncated']}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["empty", "truncated", "not_audio", "header_only", "nan"])
def test_each_broken_file_is_named_with_reason(cli, tiny_clap, audio_files, broken_files, name):
    result = _classify(cli, tiny_clap, broken_files[name], audio_files["flac"], "--labels", "a,b")
    assert result.exit_code == 3
    assert str(broken_files[name]) in result.stderr
    assert str(audio_files["flac"]) in result.stdout  # the good file is still written


def test_directory_input_recurses(cli, tiny_clap, audio_files):
    directory = audio_files["flac"].parent
    result = _classify(cli, tiny_clap, directory, "--labels", "a,b", "--top-k", "1")
    assert result.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == len(audio_files)


def test_expect_and_min_score_exit_4(cli, tiny_clap, audio_files):
    base = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--format", "json")
    top = json.loads(base.stdout)[0]["predictions"][0]
    other = "dog" if top["label"] == "rain" else "rain"
    ok = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--expect", top["label"])
    assert ok.exit_code == 0
    miss = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--expect", other)
    assert miss.exit_code == 4 and f"expected '{other}'" in miss.stderr
    assert miss.stdout  # results are still written
    low = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "dog,rain", "--min-score", "0.99")
    assert low.exit_code == 4 and "below --min-score" in low.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--labels", "only-one"], "at least two distinct labels"),
        (["--labels", "a,b", "--template", "no placeholder"], "must contain '{}'"),
        (["--labels", "a,b", "--expect", "c"], "not one of the labels"),
        (["--labels", "a,b", "--labels-file", "/missing.txt"], "does not exist"),
        (["--labels", "a,b", "--format", "xml"], "Invalid value for '--format'"),
        (["--labels", "a,b", "--dtype", "int3"], "--dtype"),
        (["--labels", "a,b", "--device", "tpu"], "is not one of auto, cpu, cuda, cuda:N, mps"),
        (["--labels", "a,b", "--quantize", "int4"], "--quantize"),
    ],
)
def test_usage_errors_exit_2(cli, tiny_clap, audio_files, args, message):
    result = _classify(cli, tiny_clap, audio_files["ogg"], *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_no_inputs_and_bad_model(cli, tiny_clap, tmp_path):
    assert _classify(cli, tiny_clap, "--labels", "a,b").exit_code == 2
    result = cli(["classify", "x.wav", "--labels", "a,b", "-m", str(tmp_path / "none")])
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_output_file_and_overwrite(cli, tiny_clap, audio_files, tmp_path):
    out = tmp_path / "pred.json"
    assert _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "-o", out).exit_code == 0
    assert json.loads(out.read_text())[0]["path"] == str(audio_files["ogg"])
    again = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "-o", out)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "-o", out, "--overwrite").exit_code == 0


def test_quiet_and_batch_options_keep_numbers(cli, tiny_clap, audio_files):
    files = [audio_files[k] for k in ("flac", "ogg", "mp3", "wav_8k", "m4a")]
    outputs = []
    for extra in (["--batch-size", "1", "--workers", "1"], ["--batch-size", "8", "--quiet"]):
        result = _classify(cli, tiny_clap, *files, "--labels", "a,b", "--format", "json", *extra)
        assert result.exit_code == 0
        outputs.append(json.loads(result.stdout))
    for a, b in zip(outputs[0], outputs[1], strict=True):
        assert a["path"] == b["path"]
        assert a["predictions"][0]["score"] == pytest.approx(b["predictions"][0]["score"], abs=1e-5)
    quiet = _classify(cli, tiny_clap, files[0], "--labels", "a,b", "--quiet")
    assert quiet.stderr == ""


def test_bfloat16_and_int8_run_on_cpu(cli, tiny_clap, audio_files):
    for extra in (["--dtype", "bfloat16"], ["--quantize", "int8"]):
        result = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "--format", "json", *extra)
        assert result.exit_code == 0, result.stderr
        scores = [p["score"] for p in json.loads(result.stdout)[0]["predictions"]]
        assert abs(sum(scores) - 1) < 1e-3


@pytest.mark.parametrize("native", [False, True, None])
def test_bfloat16_on_a_cpu_without_native_support_warns(cli, tiny_clap, audio_files, monkeypatch, native):
    monkeypatch.setattr("clapcli.models.device.cpu_has_native_bfloat16", lambda: native)
    result = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "--dtype", "bfloat16")
    assert result.exit_code == 0, result.stderr
    warned = "bfloat16 is emulated and about 6x slower" in result.stderr
    assert warned == (native is False)
    assert "--precision int8" in result.stderr if warned else "emulated" not in result.stderr
    quiet = _classify(cli, tiny_clap, audio_files["ogg"], "--labels", "a,b", "--precision", "bfloat16", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # --quiet: errors only


# ---------------------------------------------------------------- embed


def _embed(cli, tiny_clap, *args, input=None):
    return cli(["embed", "-m", tiny_clap, "--device", "cpu", *args], input=input)


@pytest.mark.parametrize("fmt", ["npy", "parquet", "jsonl", "csv", "json", "safetensors"])
def test_embed_every_output_format(cli, tiny_clap, audio_files, tmp_path, fmt):
    out = tmp_path / f"sounds.{fmt}"
    result = _embed(cli, tiny_clap, audio_files["flac"], audio_files["ogg"], "--text", "rain", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert out.exists() and out.stat().st_size > 0
    if fmt == "parquet":
        table = pq.read_table(out).to_pylist()
        assert [r["path"] or r["text"] for r in table] == ["rain", str(audio_files["flac"]), str(audio_files["ogg"])]
        assert table[1]["duration"] == pytest.approx(1.0) and table[1]["model"] == str(tiny_clap.resolve())
        vectors = np.array([r["embedding"] for r in table])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    if fmt == "npy":
        assert np.load(out).shape == (3, 16)
        rows = list(csv.DictReader((tmp_path / "sounds.npy.rows.csv").open()))
        assert rows[1]["path"] == str(audio_files["flac"])


def test_embed_text_only_to_stdout_and_no_normalize(cli, tiny_clap, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("a dog barking\nrain on a roof\n", encoding="utf-8")
    result = _embed(cli, tiny_clap, "--text-file", texts, "--no-normalize")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["a dog barking", "rain on a roof"]
    assert all(abs(np.linalg.norm(r["embedding"]) - 1) > 1e-3 for r in rows)


def test_embed_partial_failure_writes_the_rest(cli, tiny_clap, audio_files, broken_files, tmp_path):
    out = tmp_path / "e.parquet"
    result = _embed(cli, tiny_clap, audio_files["flac"], broken_files["empty"], audio_files["mp3"], "-o", out)
    assert result.exit_code == 3
    assert "empty file" in result.stderr
    assert pq.read_table(out).num_rows == 2


def test_embed_usage_errors(cli, tiny_clap, tmp_path, audio_files):
    assert _embed(cli, tiny_clap).exit_code == 2
    binary = _embed(cli, tiny_clap, "--text", "x", "--format", "npy")
    assert binary.exit_code == 2 and "--output" in binary.stderr
    bad_ext = _embed(cli, tiny_clap, "--text", "x", "-o", tmp_path / "x.xlsx")
    assert bad_ext.exit_code == 2 and "unknown extension" in bad_ext.stderr
    empty_text = _embed(cli, tiny_clap, "--text", "  ")
    assert empty_text.exit_code == 2


def test_models_lists_aliases(cli):
    result = cli(["models", "--format", "json"])
    rows = {r["alias"]: r["model"] for r in json.loads(result.stdout)}
    assert rows["general"] == "laion/larger_clap_general" and rows["fused"] == "laion/clap-htsat-fused"
