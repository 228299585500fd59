"""`clap embed --engine ray` on a local Ray (2 CPUs) with the tiny checkpoint: one Ray job for the module,
compared row by row with the local engine on the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray.data", reason="needs the optional extra: pip install 'clapcli[ray]'")


@pytest.fixture(scope="module")
def jobs(ray_local, cli_module, tiny_clap: Path, ray_inputs: dict[str, Path], tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ray-out")
    directory = ray_inputs["flac"].parent
    ray_run = cli_module(["embed", directory, "--engine", "ray", "--concurrency", "1", "-m", tiny_clap,
                          "--output", root / "shards", "--format", "parquet"])
    local_run = cli_module(["embed", directory, "-m", tiny_clap, "--output", root / "local.parquet"])
    return {"ray": ray_run, "local": local_run, "shards": root / "shards", "local_file": root / "local.parquet",
            "root": root}


@pytest.fixture(scope="module")
def cli_module():
    from typer.testing import CliRunner

    from clapcli.cli import app

    def run(args: list, input: str | None = None):
        return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


def _by_path(table) -> dict[str, dict]:
    return {row["path"]: row for row in table.to_pylist()}


def test_same_embeddings_as_the_local_engine(jobs: dict, ray_inputs: dict[str, Path]) -> None:
    assert jobs["local"].exit_code == 3  # the broken files fail in both engines
    ray_rows = _by_path(pq.read_table(jobs["shards"]))
    local_rows = _by_path(pq.read_table(jobs["local_file"]))
    good = {str(p) for name, p in ray_inputs.items() if not name.startswith("broken_")}
    assert set(ray_rows) == set(local_rows) == good
    for path, local in local_rows.items():
        remote = ray_rows[path]
        difference = np.abs(np.asarray(remote["embedding"]) - np.asarray(local["embedding"])).max()
        assert difference <= 1e-6, path
        assert abs(np.linalg.norm(remote["embedding"]) - 1.0) < 1e-5
        assert (remote["duration"], remote["model"], remote["kind"], remote["text"]) == (
            local["duration"], local["model"], "audio", None)
    assert ray_rows[str(ray_inputs["long"])]["duration"] == pytest.approx(23.0)


def test_shards_have_the_local_parquet_columns(jobs: dict) -> None:
    shards = sorted(jobs["shards"].glob("part-*.parquet"))
    assert shards and not list(jobs["shards"].glob(".*"))  # no temporary files left behind
    local = pq.read_schema(jobs["local_file"]).remove_metadata()
    for shard in shards:
        assert pq.read_schema(shard).remove_metadata() == local


def test_failed_inputs_land_in_the_errors_table(jobs: dict, ray_inputs: dict[str, Path], loaded_clap) -> None:
    from clapcli.core.embed import embed_media

    broken = sorted(p for name, p in ray_inputs.items() if name.startswith("broken_"))
    expected = {f.source: f.reason for f in embed_media(loaded_clap, broken)}  # the local engine's reasons
    errors = pq.read_table(jobs["shards"] / "_errors")
    assert errors.column_names == ["path", "error"]
    assert dict(zip(errors.column("path").to_pylist(), errors.column("error").to_pylist())) == expected
    assert "empty file (0 bytes)" in expected.values()
    assert expected[str(ray_inputs["broken_dangling_link"])] == "a link to a missing file"
    result = jobs["ray"]
    assert result.exit_code == 3, result.stderr
    for path in broken:
        assert f"failed: {path}" in result.stderr
    good = len(ray_inputs) - len(broken)
    assert f"{good} embeddings written to {jobs['shards']}, {len(broken)} failed" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_import_loads_the_shards_in_a_collection(jobs: dict, cli_module, ray_inputs: dict[str, Path]) -> None:
    from clapcli.store import open_store

    db = jobs["root"] / "library.db"
    for _ in range(2):  # upserts: a rerun leaves the same rows
        result = cli_module(["embed", "--import", jobs["shards"], "--db", db])
        assert result.exit_code == 0, result.stderr
    shard_rows = _by_path(pq.read_table(jobs["shards"]))
    with open_store(db) as store:
        collection = store.collection("default", create=False)
        assert collection.count() == len(shard_rows) == sum(not n.startswith("broken_") for n in ray_inputs)
        for path, row in shard_rows.items():
            np.testing.assert_allclose(collection.vector_for(path), row["embedding"], atol=1e-7)


def test_existing_shards_are_not_overwritten(jobs: dict, cli_module, tiny_clap: Path) -> None:
    before = sorted(p.name for p in jobs["shards"].rglob("*.parquet"))
    result = cli_module(["embed", jobs["shards"].parent, "--engine", "ray", "-m", tiny_clap,
                         "--output", jobs["shards"]])
    assert result.exit_code == 1
    assert "already holds" in result.stderr and "--overwrite" in result.stderr
    assert sorted(p.name for p in jobs["shards"].rglob("*.parquet")) == before


def test_missing_inputs_are_failure_rows_not_a_failed_job(ray_local, cli_module, tiny_clap: Path,
                                                          ray_inputs: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    out = tmp_path / "shards"
    result = cli_module(["embed", ray_inputs["flac"], missing, "--engine", "ray", "-m", tiny_clap, "--output", out])
    assert result.exit_code == 3, result.stderr
    assert f"failed: {missing}: no such file or directory" in " ".join(result.stderr.split())
    assert pq.read_table(out).column("path").to_pylist() == [str(ray_inputs["flac"])]
    assert pq.read_table(out / "_errors").to_pylist() == [{"path": str(missing), "error": "no such file or directory"}]
    # Nothing readable at all: no Ray job, the failures are still recorded.
    result = cli_module(["embed", missing, "--engine", "ray", "-m", tiny_clap, "--output", out, "--overwrite"])
    assert result.exit_code == 1, result.stderr  # every input failed: nothing produced, as the local engine
    assert "0 embeddings written" in result.stderr and "every input failed (1 input" in result.stderr
    assert not list(out.glob("part-*.parquet")) and len(pq.read_table(out / "_errors")) == 1


def test_usage_errors_before_any_job(cli_module, tiny_clap: Path, tmp_path: Path) -> None:
    cases = [
        (["--engine", "spark", "x"], "Invalid value for '--engine'"),
        (["--engine", "ray", "x"], "give --output DIR"),
        (["--engine", "ray", "x", "-o", tmp_path, "--format", "csv"], "--format csv"),
        (["--engine", "ray", "--text", "a dog", "-o", tmp_path], "embed --text with the local engine"),
    ]
    for args, message in cases:
        result = cli_module(["embed", "-m", tiny_clap, *args])
        assert result.exit_code == 2, args
        assert message in " ".join(result.stderr.split()), args


def test_precision_and_runtime_reach_the_actors(cli_module, tiny_clap: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """--precision/--runtime (and 0.1's --dtype/--quantize, with their deprecation line) are what each
    actor loads, not dropped on the way to the Ray job."""
    import clapcli.core.ray_engine as ray_engine

    specs = []

    def fake_job(inputs, output, spec, options, overwrite, name_failures):
        specs.append(spec)
        return ray_engine.RayRunSummary(output, written=1)

    monkeypatch.setattr(ray_engine, "embed_with_ray", fake_job)
    base = ["embed", "-m", tiny_clap, "--engine", "ray", tmp_path, "-o", tmp_path / "shards"]
    assert cli_module([*base, "--precision", "int8", "--runtime", "torch"]).exit_code == 0
    old = cli_module([*base, "--dtype", "bfloat16"])
    assert old.exit_code == 0 and "--dtype bfloat16 is now --precision bfloat16" in old.stderr
    assert [(s.precision, s.runtime) for s in specs] == [("int8", "torch"), ("bfloat16", None)]


def test_an_actor_loads_the_precision_it_is_given(tiny_clap: Path) -> None:
    import torch

    from clapcli.core.ray_engine import EmbedActor, ModelSpec

    actor = EmbedActor(ModelSpec(str(tiny_clap), device="cpu", precision="int8"))
    kinds = {type(module).__module__ for module in actor.model.network.modules()}
    assert any("quantized" in kind for kind in kinds), kinds  # dynamic int8 linear layers, as the local engine
    plain = EmbedActor(ModelSpec(str(tiny_clap), device="cpu"))
    assert next(plain.model.network.parameters()).dtype == torch.float32
