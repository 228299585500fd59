"""``clap detect``, ``clap eval classify``, ``clap generate`` and the library as Python calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clapcli.api._media import _sources, check_failures, check_probe_arguments, in_place
from clapcli.errors import InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.results import Event, FailedInput, FrameScores
from clapcli.settings import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from clapcli.core.eval.classify import ClassifyResult
    from clapcli.core.generate.common import GeneratedAudio
    from clapcli.core.library import LibrarySummary
    from clapcli.core.probe.model import Probe
    from clapcli.core.retrieve import QueryResult


@dataclass
class Detection:
    """One file's detected events and the per-window scores they came from."""

    source: str
    events: list[Event]
    scores: FrameScores

    def to_dict(self) -> dict[str, Any]:
        """As ``clap detect -f json`` writes the file's events."""
        return {"path": self.source, "duration": round(self.scores.duration, 6),
                "events": [event.to_dict() for event in self.events]}


def iter_detect(
    model: EmbeddingModel, inputs: Iterable[Any], labels: Sequence[str] | None = None, *,
    threshold: float | None = None, mode: str | None = None, template: str | None = None,
    background: str | None = None, window: float | None = None, hop: float | None = None, smooth: int = 1,
    merge_gap: float = 0.0, min_duration: float = 0.0, batch_size: int | None = None, failures: str = "raise",
    probe: Probe | None = None,
) -> Iterator[Detection | FailedInput]:
    """``clap detect`` as a stream: one ``Detection`` per input file, in order (arguments as the command's
    options; ``threshold`` defaults to 0.5 for probabilities, 0.3 for similarities). ``probe`` instead of
    ``labels``: its probabilities per window (per frame for a frame-level model)."""
    from clapcli.core.detect import PostProcessing, WindowSpec, detect_events, score_files

    check_failures(failures)
    if model.modality != "audio":
        raise InvalidField("model", "{model} '{name}' is an image model; detect needs an audio model",
                           name=model.model_id)
    scorer = _scorer(model, labels, probe, mode, template, background)
    chosen = threshold if threshold is not None else (0.5 if scorer.probabilities else 0.3)
    low = 0.0 if scorer.probabilities else -1.0
    post = PostProcessing(chosen, None, smooth, merge_gap, min_duration).check(low)
    spec = WindowSpec(window, hop)
    spec.samples(model)
    files = _files(model, inputs)
    scored = score_files(model, files, scorer, spec, batch_size)
    return in_place((r if isinstance(r, FailedInput) else Detection(r.source, detect_events(r, post), r)
                     for r in scored), failures)


def _scorer(model: EmbeddingModel, labels: Sequence[str] | None, probe: Probe | None, mode: str | None,
            template: str | None, background: str | None) -> Any:
    from clapcli.core.detect import prepare_scorer, probe_scorer

    if probe is None and labels is not None:
        return prepare_scorer(model, labels, mode, template, background)
    check_probe_arguments(labels, probe, mode=mode, template=template, background=background)
    assert probe is not None
    return probe_scorer(model, probe)


def _files(model: EmbeddingModel, inputs: Iterable[Any]) -> list[Path | FailedInput]:
    files: list[Path | FailedInput] = []
    for source in _sources(model, inputs, None):
        if not isinstance(source, (Path, FailedInput)):
            raise InvalidField("inputs", "{inputs}: detect reads files (paths, directories, globs); write an "
                               "array to a WAV file first")
        files.append(source)
    return files


def detect(model: EmbeddingModel, inputs: Iterable[Any], labels: Sequence[str] | None = None, **options: Any,
           ) -> list[Detection | FailedInput]:
    """``clap detect``: when each label's sound happens in each file (see ``iter_detect`` for the options).
    A bad input raises ``InputError``, or with ``failures="keep"`` stands as a ``FailedInput`` in its place."""
    return list(iter_detect(model, inputs, labels, **options))


def evaluate(model: EmbeddingModel, dataset: str | Path, *, labels: Sequence[str] | None = None,
             template: str | None = None, layout: str = "auto", bootstrap: int = 1000,
             db: str | Path | None = None) -> ClassifyResult:
    """``clap eval classify``: zero-shot accuracy on a labelled dataset (class folders, a CSV/TSV, ESC-50,
    UrbanSound8K or GTZAN), with bootstrap intervals and per-fold figures. ``labels`` are the texts
    scored for each class, in the dataset's class order (default: the class names)."""
    from clapcli.core.eval.classify import display_labels, evaluate_classification
    from clapcli.core.eval.datasets import read_classification

    data = read_classification(dataset, layout)
    texts = display_labels(data, list(labels) if labels is not None else None, "labels")
    return evaluate_classification(model, data, texts, template, bootstrap, db=db)


def generate(prompts: str | Sequence[str], model: str | None = None, *, seconds: float | None = None,
             steps: int | None = None, guidance: float | None = None, seed: int | None = None,
             negative: str | None = None, device: str = "auto") -> list[GeneratedAudio]:
    """``clap generate``: one ``GeneratedAudio`` (samples, sample_rate, seed) per prompt. For many calls,
    keep a generator from ``open_generator`` instead (loading costs more than a short clip)."""
    from clapcli.core.generate.common import GenerationSettings
    from clapcli.core.generate.generator import open_generator

    given: dict[str, Any] = {"seconds": seconds, "steps": steps, "guidance": guidance, "seed": seed,
                             "negative": negative}
    settings = GenerationSettings(**{name: value for name, value in given.items() if value is not None})
    return open_generator(model, device).generate([prompts] if isinstance(prompts, str) else list(prompts),
                                                  settings)


@dataclass
class Library:
    """A clapcli library (the SQLite file ``clap embed --db`` writes), as in ``clap library``/``retrieve``.

        >>> with Library("sounds.db") as library:                    # doctest: +SKIP
        ...     library.add(model, ["sounds/"])                      # new or changed files only
        ...     hits = library.search(["rain on a window"], model, k=5)
    """

    path: str | Path | None = None  # None: the default library (clapcli.store.default_db_path())
    collection: str = DEFAULT_COLLECTION
    _store: Any = field(default=None, repr=False)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _opened(self) -> Any:
        from clapcli.store import open_store

        if self._store is None:
            self._store = open_store(self.path)
        return self._store

    def add(self, model: EmbeddingModel, inputs: Iterable[Any], prune: bool = False,
            batch_size: int | None = None) -> LibrarySummary:
        """Embed new or changed files into the collection (unchanged ones are skipped by content hash);
        the summary counts added, updated, unchanged and failed inputs (each ``FailedInput`` named)."""
        from clapcli.core.library import embed_into_store, open_collection

        collection = open_collection(self._opened(), self.collection, model)
        return embed_into_store(model, _sources(model, inputs, None), collection, prune, batch_size)

    def search(self, queries: Sequence[str], model: EmbeddingModel | str | None = None, k: int = 10,
               ) -> list[QueryResult]:
        """Texts or audio files -> the best ``k`` items of the collection, one ``QueryResult`` per query."""
        from clapcli.core.retrieve import retrieve

        self.close()  # retrieve opens the file itself, read-only
        return retrieve(queries, model=model, db=self._resolved(), collection=self.collection, k=k)

    def paths(self) -> list[str]:
        """The files in the collection."""
        store = self._opened()
        if self.collection not in store.collection_names():
            return []
        return sorted(store.collection(self.collection, create=False).hashes())

    def _resolved(self) -> Path:
        from clapcli.store import default_db_path

        return Path(self.path) if self.path is not None else default_db_path()
