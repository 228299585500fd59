"""Pieces of the Ray engine that need no Ray: decoding from bytes, CPU sharing, and --import of shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from clapcli.audio.decode import load_audio
from clapcli.core.ray_engine import RayOptions, decode_bytes, fit_to_cluster
from clapcli.errors import InputError, UsageError


def test_decode_from_bytes_equals_decoding_the_file(audio_files: dict[str, Path]) -> None:
    for name, path in audio_files.items():  # m4a goes through the temp-file (PyAV) fallback
        expected = load_audio(path, 48000).samples
        got = decode_bytes(path.read_bytes(), str(path), 48000)
        assert got.dtype == np.float32 and np.array_equal(got, expected), name


def test_decode_from_bytes_fails_with_the_local_messages(broken_files: dict[str, Path]) -> None:
    for name, path in broken_files.items():
        with pytest.raises(InputError) as local:
            load_audio(path, 48000)
        with pytest.raises(InputError) as remote:
            decode_bytes(path.read_bytes(), str(path), 48000)
        assert str(remote.value) == str(local.value), name


def test_cpu_actors_leave_room_for_decoding() -> None:
    # 2 actors x 1 CPU on a 2-CPU Ray would starve the decode tasks and hang.
    fitted = fit_to_cluster(RayOptions(concurrency=2), 2.0)
    assert fitted.concurrency * fitted.num_cpus + fitted.decode_cpus <= 2.0
    assert fitted.num_cpus == 0.75
    assert fit_to_cluster(RayOptions(concurrency=2), 16.0).num_cpus == 1.0
    assert fit_to_cluster(RayOptions(concurrency=4, num_gpus=1), 2.0).num_cpus == 1.0  # GPU actors: untouched
    with pytest.raises(UsageError, match="--concurrency 40"):
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
        assert "'c': 3 rows imported from 1 shards (1 text rows skipped); 3 files in the collection" in message
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

    from clapcli.core.ray_engine import decode_batch, uri_scheme

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
