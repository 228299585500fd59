"""Pieces of the Ray engine that need no Ray: the decode task, CPU sharing, the sink, and --import of shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from clapcli.audio.decode import load_audio
from clapcli.core.ray_engine import RayOptions, decode_batch, fit_to_cluster
from clapcli.errors import InputError, UsageError


def test_decode_task_gives_the_local_samples_and_reasons(audio_files: dict[str, Path],
                                                         broken_files: dict[str, Path]) -> None:
    """The decode task feeds Ray's bytes to the local decoder: every format (m4a through PyAV reading
    the bytes) gives the local engine's samples, every broken file its reason."""
    import pyarrow as pa

    files = [*audio_files.values(), *broken_files.values()]
    batch = pa.table({"bytes": [p.read_bytes() for p in files], "path": [str(p) for p in files]})
    out = decode_batch(batch, 48000)
    assert out.column("path").to_pylist() == [str(p) for p in files]
    for path, samples, error in zip(files, out.column("samples").to_pylist(), out.column("error").to_pylist()):
        try:
            expected = load_audio(path, 48000).samples
        except InputError as exc:
            assert samples is None and error == str(exc).removeprefix(f"{path}: "), path
            continue
        assert error is None and np.array_equal(np.asarray(samples, np.float32), expected), path
    assert out.column("error").null_count == len(audio_files)


def test_cpu_actors_leave_room_for_decoding() -> None:
    # 2 actors x 1 CPU on a 2-CPU Ray would starve the decode tasks and hang.
    fitted = fit_to_cluster(RayOptions(concurrency=2), 2.0)
    assert fitted.concurrency * fitted.num_cpus + fitted.decode_cpus <= 2.0
    assert fitted.num_cpus == 0.75
    assert fit_to_cluster(RayOptions(concurrency=2), 16.0).num_cpus == 1.0
    assert fit_to_cluster(RayOptions(concurrency=4, num_gpus=1), 2.0).num_cpus == 1.0  # GPU actors: untouched
    with pytest.raises(UsageError, match="^concurrency 40 "):
        fit_to_cluster(RayOptions(concurrency=40), 2.0)


def test_import_of_a_local_parquet_file(cli, tiny_clap: Path, audio_files: dict[str, Path], tmp_path: Path) -> None:
    from clapcli.store import open_store

    inputs = [str(audio_files[k]) for k in ("flac", "ogg", "wav_8k")]
    out = tmp_path / "e.parquet"
    assert cli(["embed", *inputs, "-m", tiny_clap, "-o", out, "--text", "a dog"]).exit_code == 0
    db = tmp_path / "lib.db"
    for _ in range(2):  # a second import upserts the same rows, never duplicates them
        result = cli(["embed", "--import", out, "--db", db, "--collection", "c"])
        assert result.exit_code == 0, result.stderr
        message = " ".join(result.stderr.split())  # rich wraps long lines
        assert "'c': 3 rows imported from 1 shard (1 text row skipped); 3 files in the collection" in message
    table = pq.read_table(out).to_pylist()
    with open_store(db) as store:
        collection = store.collection("c", create=False)
        assert collection.count() == 3
        assert collection.model_id == table[1]["model"]
        for row in table[1:]:
            stored = collection.vector_for(str(Path(row["path"]).resolve()))
            np.testing.assert_allclose(stored, np.asarray(row["embedding"], np.float32), atol=1e-7)


def test_import_refuses_missing_shards_and_extra_arguments(cli, tmp_path: Path) -> None:
    result = cli(["embed", "--import", tmp_path / "nothing", "--db", tmp_path / "lib.db"])
    assert result.exit_code == 2 and "no Parquet shards there" in result.stderr
    result = cli(["embed", "a.wav", "--import", tmp_path, "--db", tmp_path / "lib.db"])
    assert result.exit_code == 2 and "drop the inputs" in result.stderr


@pytest.mark.parametrize("extra, message", [
    (["--workers", "4"], "--workers sets the local engine's decode threads"),
    (["--prune"], "--prune works with the local engine only"),
])
@pytest.mark.parametrize("mode", ["import", "ray"])
def test_local_engine_options_are_refused_not_ignored(cli, tmp_path: Path, extra, message, mode) -> None:
    engine = ["--import", tmp_path] if mode == "import" else ["a.wav", "--engine", "ray", "--output", tmp_path / "o"]
    result = cli(["embed", *engine, "--db", tmp_path / "lib.db", *extra])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_without_the_extra_the_message_names_it(cli, monkeypatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if 'clapcli[ray]' were not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    result = cli(["embed", tmp_path, "--engine", "ray", "--output", tmp_path / "out"])
    assert result.exit_code == 1
    assert "pip install 'clapcli[ray]'" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


def test_output_directory_rules(tmp_path: Path) -> None:
    from clapcli.core.ray_engine import prepare_output
    from clapcli.core.shards import shard_files
    from clapcli.errors import OutputError

    out = tmp_path / "out"
    prepare_output(str(out), overwrite=False)  # created when missing
    assert out.is_dir()
    (out / "_errors").mkdir()
    for name in ("part-00000-a.parquet", "_errors/part-00000-a.parquet", ".part-x.parquet.part", "notes.txt"):
        (out / name).write_bytes(b"x")
    assert shard_files(str(out)) == [str(out / "part-00000-a.parquet")]
    with pytest.raises(OutputError, match="already holds 2 Parquet files"):
        prepare_output(str(out), overwrite=False)
    prepare_output(str(out), overwrite=True)  # removes the old shards and errors, nothing else
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [".part-x.parquet.part", "_errors", "notes.txt"]
    with pytest.raises(OutputError, match="is a file"):
        prepare_output(str(out / "notes.txt"), overwrite=True)


def test_decode_batch_keeps_uris_and_reports_failures(audio_files: dict[str, Path],
                                                      broken_files: dict[str, Path]) -> None:
    import pyarrow as pa

    from clapcli.core.ray_engine import uri_scheme

    assert uri_scheme(["s3://bucket/audio/"]) == "s3" and uri_scheme(["/mnt/audio", "x"]) is None
    good, bad = audio_files["flac"], broken_files["empty"]
    # Ray's listing of s3://bucket/... yields "bucket/..." paths; the rows must name the URI again.
    batch = pa.table({"bytes": [good.read_bytes(), bad.read_bytes()], "path": ["bucket/a.flac", "bucket/b.wav"]})
    out = decode_batch(batch, 48000, scheme="s3")
    assert out.column("path").to_pylist() == ["s3://bucket/a.flac", "s3://bucket/b.wav"]
    assert out.column("error").to_pylist() == [None, "empty file (0 bytes)"]
    samples = out.column("samples").to_pylist()
    assert samples[1] is None
    np.testing.assert_array_equal(np.asarray(samples[0], np.float32), load_audio(good, 48000).samples)


def test_local_inputs_are_listed_on_the_driver(tmp_path: Path, monkeypatch) -> None:
    """Every local input is a file for Ray or a failure row; nothing is skipped silently."""
    import os

    from clapcli.core.ray_engine import list_local_inputs

    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("a.wav", "locked.flac", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "dangling.wav").symlink_to(tmp_path / "deleted.wav")
    explicit = tmp_path / "clip.unknown"
    explicit.write_bytes(b"x")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p).name != "locked.flac" and real_access(p, mode))
    monkeypatch.chdir(tmp_path)
    files, failures = list_local_inputs(["audio", "clip.unknown", "missing.wav"])
    assert files == [str(folder / "a.wav"), str(explicit)]  # absolute; explicit files whatever their extension
    assert {(f.source, f.reason) for f in failures} == {
        (str(folder / "dangling.wav"), "a link to a missing file"),
        (str(folder / "locked.flac"), "not readable (permission denied)"),
        (str(tmp_path / "missing.wav"), "no such file or directory"),
    }


def test_sink_writes_the_embeddings_schema_and_the_errors_table(tmp_path: Path) -> None:
    """An actor's table (the embeddings schema plus ``error``) splits into a shard with exactly the local
    Parquet schema and an errors shard of its path/error columns."""
    from clapcli.core.ray_engine import ShardSink
    from clapcli.core.ray_engine.sink import failures_schema
    from clapcli.io.arrow import embedding_schema, embedding_table

    meta = [{"path": "/a.wav", "kind": "audio", "duration": 1.5, "model": "m"}]
    block = embedding_table(meta, [np.ones(4, np.float32)], [{"path": "/b.wav", "error": "empty file (0 bytes)"}],
                            dim=4, with_error=True)
    sink = ShardSink(str(tmp_path))
    assert sink.write([block, block.slice(0, 0)], ctx=None) == (1, 1)
    (shard,) = tmp_path.glob("part-*.parquet")
    assert pq.read_schema(shard).remove_metadata() == embedding_schema(4)
    assert pq.read_table(shard).column("embedding").to_pylist() == [[1.0] * 4]
    (errors,) = (tmp_path / "_errors").glob("part-*.parquet")
    assert pq.read_schema(errors).remove_metadata() == failures_schema()
    assert pq.read_table(errors).to_pylist() == [{"path": "/b.wav", "error": "empty file (0 bytes)"}]
    assert not list(tmp_path.rglob(".*"))  # hidden temporaries renamed


def _write(path: Path, columns: dict) -> Path:
    import pyarrow as pa

    pq.write_table(pa.table(columns), path)
    return path


def test_import_reads_shards_through_the_embeddings_schema(cli, tmp_path: Path) -> None:
    """float64 lists from another writer import as float32; failure rows (an ``error``) are skipped;
    a column of another kind, or embeddings of different lengths, fail naming the shard."""
    from clapcli.store import open_store

    good = _write(tmp_path / "good.parquet", {
        "path": ["/x/a.wav", "/x/b.wav"], "model": ["m", "m"], "duration": [1.0, 2.0],
        "embedding": [[0.6, 0.8], [0.0, 0.0]], "error": [None, "not a readable audio file"]})
    db = tmp_path / "lib.db"
    result = cli(["embed", "--import", good, "--db", db])
    assert result.exit_code == 0, result.stderr
    with open_store(db) as store:
        collection = store.collection("default", create=False)
        assert collection.count() == 1 and collection.model_id == "m"
        np.testing.assert_allclose(collection.vector_for("/x/a.wav"), [0.6, 0.8], rtol=1e-6)
    cases = {
        "text_vectors.parquet": ({"path": ["/a"], "model": ["m"], "embedding": [["a", "b"]]},
                                 "column 'embedding' holds list<element: string>, expected list<item: float>"),
        "ragged.parquet": ({"path": ["/a", "/b"], "model": ["m", "m"], "embedding": [[0.1, 0.2], [0.3]]},
                           "embeddings of different lengths"),
        "no_model.parquet": ({"path": ["/a"], "embedding": [[0.1]]}, "shards lack column(s) model"),
    }
    for name, (columns, message) in cases.items():
        result = cli(["embed", "--import", _write(tmp_path / name, columns), "--db", tmp_path / f"{name}.db"])
        assert result.exit_code == 1, name
        assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr, name
