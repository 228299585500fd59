"""Where the Ray engine writes: Parquet shards in DIR and failed inputs in ``DIR/_errors/``.

Shards hold the one Arrow layout of embeddings (``clapcli.io.arrow.embedding_schema``, as the actors
return it); the errors table holds that layout's ``path`` and ``error`` columns."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from clapcli.core.shards import ERRORS_DIR, SHARD_PREFIX, filesystem_for, shard_files
from clapcli.errors import OutputError
from clapcli.results import FailedInput
from clapcli.text import first_line

FAILURE_COLUMNS = ["path", "error"]


def failures_schema() -> Any:
    """``DIR/_errors/`` columns: path and error, typed as in the embeddings schema."""
    import pyarrow as pa

    from clapcli.io.arrow import embedding_schema

    schema = embedding_schema(0, with_error=True)
    return pa.schema([schema.field(name) for name in FAILURE_COLUMNS])


class ShardSink:
    """Ray Data datasink: each write task streams its blocks into one embeddings shard and (when any input
    failed) one errors shard. Files are written under a hidden name and renamed when complete, so a
    retried or killed task never leaves half a shard under a visible name."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.written = 0
        self.failed = 0

    def write(self, blocks: Iterable[Any], ctx: Any) -> tuple[int, int]:
        filesystem, root = filesystem_for(self.output)
        name = f"{SHARD_PREFIX}{getattr(ctx, 'task_idx', 0):05d}-{uuid.uuid4().hex[:12]}.parquet"
        shards = {"ok": _Shard(filesystem, root, name), "err": _Shard(filesystem, f"{root}/{ERRORS_DIR}", name)}
        try:
            for block in blocks:
                _write_block(block, shards)
        except BaseException:
            for shard in shards.values():
                shard.discard()
            raise
        for shard in shards.values():
            shard.commit()
        return shards["ok"].rows, shards["err"].rows

    def on_write_complete(self, result: Any) -> None:
        returns = getattr(result, "write_returns", result)  # Ray >= 2.39 passes a WriteResult, older a list
        self.written = sum(r[0] for r in returns)
        self.failed = sum(r[1] for r in returns)


def make_datasink(output: str) -> Any:
    """A ``ShardSink`` that is also a ``ray.data.Datasink`` (made here so importing this module needs no Ray)."""
    from ray.data import Datasink

    class ClapcliShardDatasink(ShardSink, Datasink):
        pass

    return ClapcliShardDatasink(output)


def _write_block(block: Any, shards: dict[str, _Shard]) -> None:
    """Rows without an error to the shard (without the column), the others to the errors shard."""
    import pyarrow.compute as pc

    if block.num_rows == 0:
        return
    failed = pc.is_valid(block.column("error"))
    shards["ok"].add(block.filter(pc.invert(failed)).drop_columns(["error"]))
    shards["err"].add(block.filter(failed).select(FAILURE_COLUMNS).cast(failures_schema()))


class _Shard:
    """One Parquet file, opened on its first non-empty table."""

    def __init__(self, filesystem: Any, folder: str, name: str) -> None:
        self.filesystem = filesystem
        self.final = f"{folder}/{name}"
        self.temp = f"{folder}/.{name}.part"
        self.writer: Any = None
        self.rows = 0

    def add(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            return
        if self.writer is None:
            self.filesystem.create_dir(self.final.rsplit("/", 1)[0], recursive=True)
            self.writer = pq.ParquetWriter(self.temp, table.schema, filesystem=self.filesystem)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.filesystem.move(self.temp, self.final)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.filesystem.delete_file(self.temp)


def prepare_output(location: str, overwrite: bool) -> None:
    """Refuse a directory that already holds shards unless ``overwrite``, which deletes those shards
    (and the old errors table) only; fail early when the location cannot be created."""
    import pyarrow.fs as pafs

    filesystem, root = filesystem_for(location)
    if filesystem.get_file_info(root).type == pafs.FileType.File:
        raise OutputError(f"--output {location} is a file; --engine ray writes a directory of Parquet shards")
    old = shard_files(location)
    errors_root = f"{root}/{ERRORS_DIR}"
    if filesystem.get_file_info(errors_root).type == pafs.FileType.Directory:
        old += [f.path for f in filesystem.get_file_info(pafs.FileSelector(errors_root))
                if f.base_name.startswith(SHARD_PREFIX)]
    if old and not overwrite:
        raise OutputError(f"--output {location} already holds {len(old)} Parquet files; pass --overwrite to "
                          "replace them")
    try:
        for path in old:
            filesystem.delete_file(path)
        filesystem.create_dir(root, recursive=True)
    except OSError as exc:
        raise OutputError(f"--output {location}: {first_line(exc, 200)}") from None


def write_failures(output: str, failures: list[FailedInput]) -> None:
    """Failures found on the driver, as one more shard of ``DIR/_errors/`` (the same columns)."""
    import pyarrow as pa

    filesystem, root = filesystem_for(output)
    shard = _Shard(filesystem, f"{root}/{ERRORS_DIR}", f"{SHARD_PREFIX}driver-{uuid.uuid4().hex[:12]}.parquet")
    shard.add(pa.table({"path": [f.source for f in failures], "error": [f.reason for f in failures]},
                       schema=failures_schema()))
    shard.commit()
