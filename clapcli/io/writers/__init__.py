"""Writers: one small class per format, chosen from a dict (records and embeddings).

A writer streams to stdout or to an ``OutputFile`` (``clapcli.io.target``), which publishes the
file only when it is complete and never replaces what it was not asked to. A write error (a full
disk) removes the partial file and raises one ``OutputError``; an interruption still publishes the
complete rows written so far. Failed inputs appear in JSON and JSONL outputs as
``{"path": ..., "error": ...}`` rows; the other formats have no place for them (stderr names them).
"""

from clapcli.io.writers.base import (
    BINARY_FORMATS,
    EMBEDDING_FORMATS,
    RECORD_FORMATS,
    Destination,
    Writer,
    check_output_path,
    default_record_format,
    format_from_path,
)
from clapcli.io.writers.embeddings import (
    EMBEDDING_WRITERS,
    EmbeddingWriter,
    embedding_record,
    embedding_writer,
    npy_rows_path,
)
from clapcli.io.writers.records import RECORD_WRITERS, RecordWriter, record_writer

__all__ = [
    "BINARY_FORMATS", "EMBEDDING_FORMATS", "EMBEDDING_WRITERS", "RECORD_FORMATS", "RECORD_WRITERS", "Destination",
    "EmbeddingWriter", "RecordWriter", "Writer", "check_output_path", "default_record_format", "embedding_record",
    "embedding_writer", "format_from_path", "npy_rows_path", "record_writer",
]
