"""What the server computes: models loaded once, text searches batched, uploads embedded.

One model per model id the library uses (a library's collections normally share one), loaded on
first use and kept. Every model call holds ``compute_lock``: two forward passes at once only fight
over the same cores. Text searches go through a ``MicroBatcher``: the texts of concurrent
requests are embedded in one forward pass and searched in one pass over each collection's matrix.
Uploads go through the CLI's decoder and pipeline (``core.embed.embed_media``): opened as a stream
(the header's length checked against ``max_upload_seconds`` before a sample is decoded), and long
audio is cut into windows block by block, so a small compressed file cannot fill the memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clapcli.core.retrieve import SEGMENT_WIDEN
from clapcli.core.search import exact_top_k, search_index
from clapcli.errors import InputError
from clapcli.serve.batching import DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT, MicroBatcher
from clapcli.serve.library import LibraryState, Snapshot
from clapcli.serve.packing import encode_queries
from clapcli.serve.topk import torch_scores

DEFAULT_MAX_UPLOAD_SECONDS = 600.0
MAX_WINDOWS = 5  # next-best windows listed with a segment hit


class UploadTooLong(InputError):
    """An upload holds more audio than the server accepts (answered with 413)."""


@dataclass(frozen=True)
class Found:
    """One hit: the row's item and its cosine similarity."""

    rank: int
    score: float
    item_id: int
    # Segment collections: the file's next-best windows among the candidates, as (score, item id), best first.
    windows: tuple[tuple[float, int], ...] = ()


@dataclass(frozen=True)
class TextSearch:
    snapshot: Snapshot
    text: str
    k: int


class Engine:
    def __init__(self, library: LibraryState, loader: Callable[[str], Any], batching: bool = True,
                 max_batch: int = DEFAULT_MAX_BATCH, max_wait: float = DEFAULT_MAX_WAIT,
                 nprobe: int | None = None, max_upload_seconds: float = DEFAULT_MAX_UPLOAD_SECONDS) -> None:
        self.library = library
        self.max_upload_seconds = max_upload_seconds
        self.loader = loader
        self.nprobe = nprobe
        self.compute_lock = threading.Lock()
        self.probe: Any = None  # ``clap serve --probe``: scores uploads for collections of the probe's model
        self._models: dict[str, Any] = {}
        self._models_lock = threading.Lock()
        self.batcher: MicroBatcher[TextSearch] = MicroBatcher(
            self._search_texts, max_batch if batching else 1, max_wait, name="clapcli-text-batcher")

    def close(self) -> None:
        self.batcher.close()

    # ----------------------------------------------------------------- models

    def model(self, model_id: str) -> Any:
        with self._models_lock:
            if model_id not in self._models:
                self._models[model_id] = self.loader(model_id)
            return self._models[model_id]

    def warm(self) -> None:
        """Load the model of every collection now, so the first request does not wait for it."""
        for snapshot in self.library.snapshots():
            self.model(snapshot.model_id)

    # ----------------------------------------------------------------- search

    def submit_text_search(self, snapshot: Snapshot, text: str, k: int) -> Future:
        return self.batcher.submit(TextSearch(snapshot, text, k))

    def _search_texts(self, requests: Sequence[TextSearch]) -> list[list[Found] | BaseException]:
        results: list[list[Found] | BaseException] = [[] for _ in requests]
        by_model: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            by_model.setdefault(request.snapshot.model_id, []).append(index)
        for model_id, indices in by_model.items():
            try:
                model = self.model(model_id)
                with self.compute_lock:
                    vectors = encode_queries(model, [requests[i].text for i in indices])  # one forward pass
            except Exception as exc:
                for i in indices:
                    results[i] = exc
                continue
            by_snapshot: dict[int, list[int]] = {}
            for row, i in enumerate(indices):
                by_snapshot.setdefault(id(requests[i].snapshot), []).append(row)
            for rows in by_snapshot.values():
                first = requests[indices[rows[0]]]
                k = max(requests[indices[r]].k for r in rows)
                # One matmul over the matrix; torch's, on this (the model's) thread and its OpenMP team
                # (an exported model runs without torch: numpy's).
                product = torch_scores if getattr(model, "runtime", "torch") == "torch" else None
                found = self.search_vectors(first.snapshot, vectors[rows], k, scores=product)
                for r, hits in zip(rows, found, strict=True):
                    results[indices[r]] = hits[: requests[indices[r]].k]
        return results

    def search_vectors(self, snapshot: Snapshot, queries: np.ndarray, k: int, exclude: int | None = None,
                       scores: Callable | None = None) -> list[list[Found]]:
        """Top-k items of ``snapshot`` per unit query vector (exact, or the faiss index if loaded). In a
        segment collection only each file's best window is kept (as ``clap retrieve`` does), and
        ``exclude`` drops every window of that item's file."""
        if snapshot.segmented:
            return self._search_files(snapshot, queries, k, exclude, scores)
        wanted = k + (1 if exclude is not None else 0)
        if snapshot.index is not None:
            best, ids = search_index(snapshot.index, queries, wanted, self.nprobe)
        else:
            best, rows = exact_top_k(snapshot.vectors, queries, wanted, scores)
            ids = snapshot.ids[rows] if rows.size else rows
        out = []
        for score_row, id_row in zip(best.tolist(), ids.tolist(), strict=True):
            kept = [(s, int(i)) for s, i in zip(score_row, id_row, strict=True) if i >= 0 and i != exclude][:k]
            out.append([Found(rank, float(s), i) for rank, (s, i) in enumerate(kept, start=1)])
        return out

    def _search_files(self, snapshot: Snapshot, queries: np.ndarray, k: int, exclude: int | None,
                      scores: Callable | None) -> list[list[Found]]:
        skipped = snapshot.items[exclude].file if exclude is not None else None
        out = []
        for hits in self.search_vectors(replace(snapshot, segmented=False), queries, k * SEGMENT_WIDEN,
                                        scores=scores):
            by_file: dict[str, list[Found]] = {}
            for hit in hits:  # best first: a file's first window is its best
                file = snapshot.items[hit.item_id].file
                if file != skipped and (file in by_file or len(by_file) < k):
                    by_file.setdefault(file, []).append(hit)
            out.append([Found(rank, best.score, best.item_id,
                              tuple((w.score, w.item_id) for w in others[:MAX_WINDOWS]))
                        for rank, (best, *others) in enumerate(by_file.values(), start=1)])
        return out

    # ----------------------------------------------------------------- uploads

    def embed_upload(self, model_id: str, data: bytes, name: str,
                     normalize: bool = True) -> tuple[np.ndarray, float | None]:
        """(unit vector, or the raw one, duration) of uploaded audio, decoded as the CLI decodes files."""
        from clapcli.audio.decode import AudioTooLong, open_audio
        from clapcli.core.embed import embed_media
        from clapcli.core.pipeline import ArrayInput
        from clapcli.results import FailedInput

        model = self.model(model_id)
        if model.modality != "audio":
            raise InputError(f"{name}: '{model_id}' is an {model.modality} model; upload an {model.modality} file")
        try:  # InputError with the reason when unreadable; nothing decoded yet
            stream = open_audio(data, model.sample_rate, name, self.max_upload_seconds)
        except AudioTooLong as exc:
            raise UploadTooLong(f"{exc}; send a shorter clip, or start the server with a larger "
                                "--max-upload-seconds") from None
        with self.compute_lock:
            result = next(iter(embed_media(model, [ArrayInput(name, stream, model.sample_rate)], normalize, workers=1)))
        if isinstance(result, FailedInput):
            raise InputError(f"{name}: {result.reason}")
        return result.vector, result.duration

    def embed_texts(self, model_id: str, texts: Sequence[str]) -> np.ndarray:
        from clapcli.core.text import encode_texts

        model = self.model(model_id)
        with self.compute_lock:
            return encode_texts(model, list(texts))

    def probe_for(self, model_id: str) -> Any:
        """The ``--probe`` probe when it was trained on this model, else None (zero-shot labels)."""
        return self.probe if self.probe is not None and self.probe.model_id == model_id else None

    def classify_upload(self, model_id: str, data: bytes, name: str, labels: Sequence[str],
                        template: str | None) -> tuple[list[tuple[str, float]], float | None]:
        """(label, probability) best first, and the upload's duration. With a probe for this model: its
        classes and probabilities (the labels and template are not used)."""
        from clapcli.core.classify import prepare_labels, rank, scores

        model = self.model(model_id)
        probe = self.probe_for(model_id)
        if probe is not None:
            probe.check_model(model.model_id, model.embedding_dim)
            vector, duration = self.embed_upload(model_id, data, name)
            probabilities = probe.probabilities(vector[None])[0]
            return [(p.label, p.score) for p in rank(probabilities, probe.classes, None)], duration
        # PE-Audio scores raw embeddings (dot products, its learned scale and bias); CLAP unit vectors
        vector, duration = self.embed_upload(model_id, data, name, normalize=model.similarity == "cosine")
        with self.compute_lock:
            label_set = prepare_labels(model, labels, template)
        probabilities = scores(vector[None], label_set)[0]
        return [(p.label, p.score) for p in rank(probabilities, label_set.labels, None)], duration
