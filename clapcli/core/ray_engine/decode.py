"""Ray decode tasks: (bytes, path) rows -> (path, samples, error) rows, with ``clapcli.audio.decode``.

The bytes Ray read are decoded by the local engine's own decoder (``load_audio`` accepts bytes), so
samples and failure reasons are the local engine's, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np

from clapcli.core.shards import is_uri
from clapcli.errors import InputError


def decode_batch(batch: Any, sample_rate: int, scheme: str | None = None) -> Any:
    """Ray map_batches function: (bytes, path) rows -> (path, samples, error) rows. ``scheme`` puts back
    the ``s3://``-style prefix that Ray's listing drops, so rows name files as the user did."""
    import pyarrow as pa

    from clapcli.audio.decode import load_audio

    paths = [with_scheme(p, scheme) for p in batch.column("path").to_pylist()]
    blobs = batch.column("bytes")
    samples: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for index, path in enumerate(paths):
        try:
            samples.append(load_audio(blobs[index].as_py(), sample_rate, name=path).samples)
            errors.append(None)
        except Exception as exc:  # one bad file must not stop the job; it goes to the errors table
            samples.append(None)
            errors.append(_reason(exc, path))
    return pa.table({"path": pa.array(paths, pa.string()), "samples": _ragged(samples),
                     "error": pa.array(errors, pa.string())})


def uri_scheme(inputs: list[str]) -> str | None:
    """The object-store scheme of the inputs (Ray reads all inputs through one filesystem), if any."""
    scheme = inputs[0].split("://", 1)[0].lower() if inputs and is_uri(inputs[0]) else None
    return None if scheme in (None, "file", "local") else scheme


def with_scheme(path: str, scheme: str | None) -> str:
    return f"{scheme}://{path}" if scheme and "://" not in path else path


def _ragged(arrays: list[np.ndarray | None]) -> Any:
    """Variable-length float32 rows as one Arrow large_list column (nulls for failed rows), no copies per value."""
    import pyarrow as pa

    lengths = [0 if a is None else len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    present = [a for a in arrays if a is not None]
    values = np.concatenate(present).astype(np.float32, copy=False) if present else np.zeros(0, np.float32)
    mask = pa.array([a is None for a in arrays], pa.bool_())
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values), mask=mask)


def _reason(exc: BaseException, name: str) -> str:
    """The reason column: the local engine's reason without the leading name."""
    if isinstance(exc, InputError):
        text = str(exc)
        return text[len(name) + 2:] if text.startswith(f"{name}: ") else text
    if isinstance(exc, MemoryError):
        return "out of memory while decoding; is the file enormous?"
    return f"could not be read ({type(exc).__name__}: {exc})"
