"""``clap map``: a 2-D map of a library collection's embeddings, each point coloured by its top tag or folder.

Methods: ``pca`` (numpy, no extra, signs fixed so a run is repeatable), ``tsne`` (scikit-learn) and
``umap`` (umap-learn), both in the ``map`` extra and seeded, so the same library and ``seed`` give the same
coordinates. Cosine is the metric the embeddings are searched with; vectors are L2-normalized, so PCA and
t-SNE on them follow it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clapcli.errors import InvalidField, UsageError, missing_extra

if TYPE_CHECKING:
    from clapcli.models.base import EmbeddingModel

METHODS = ("pca", "tsne", "umap")
COLOURS = ("auto", "tag", "folder")
LEGEND_GROUPS = 12  # named in the legend; the rest share one grey "other"


@dataclass(frozen=True)
class MapPoint:
    path: str
    x: float
    y: float
    group: str  # the top tag, or the folder
    cluster: int = 0  # 1 = the largest cluster; 0 = no clustering asked
    cluster_label: str = ""  # the prompt nearest the cluster's mean embedding ("cluster N" without a model)


def project(vectors: np.ndarray, method: str, seed: int = 0, *, fast: bool = False) -> np.ndarray:
    """(n, 2) coordinates of the rows of ``vectors``. ``fast``: UMAP unseeded on every core (not repeatable)."""
    if method not in METHODS:
        raise InvalidField("method", "must be one of {known}", known=", ".join(METHODS))
    n = vectors.shape[0]
    _check_size(n)
    if method == "pca":
        return _pca(vectors)
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise missing_extra("scikit-learn", "map") from None
        perplexity = float(min(30, max(2, (n - 1) // 3)))
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine").fit_transform(vectors)
    from clapcli.core.map_umap import map_options, umap_layout

    return umap_layout(vectors, None if fast else seed, **map_options(n))  # type: ignore[arg-type]


def _check_size(n: int) -> None:
    if n < 3:
        raise UsageError(f"a map needs at least 3 items; the collection has {n}")


def _pca(vectors: np.ndarray) -> np.ndarray:
    from clapcli.core.map_umap import principal_axes

    return principal_axes(vectors, 2)


def groups_by_folder(paths: list[str]) -> list[str]:
    return [os.path.basename(os.path.dirname(path.split("#t=")[0])) or "/" for path in paths]


def plot_map(points: list[MapPoint], output: Path, overwrite: bool, title: str) -> None:
    """A PNG scatter plot, coloured by group (the most common ones in the legend), published atomically."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_extra("matplotlib", "plot") from None
    from collections import Counter

    from clapcli.io.target import OutputFile

    figure = Figure(figsize=(9, 7.5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    common = [group for group, _ in Counter(p.group for p in points).most_common(LEGEND_GROUPS)]
    size = max(2.0, min(30.0, 3000.0 / max(len(points), 1)))
    rest = [p for p in points if p.group not in common]
    if rest:
        axes.scatter([p.x for p in rest], [p.y for p in rest], s=size, color="lightgrey", label="other")
    for number, group in enumerate(common):
        chosen = [p for p in points if p.group == group]
        axes.scatter([p.x for p in chosen], [p.y for p in chosen], s=size, color=f"C{number % 10}",
                     marker="o" if number < 10 else "s", label=f"{group} ({len(chosen)})")
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="best", fontsize="small", markerscale=max(1.0, 12 / size))
    _draw_cluster_labels(figure, axes, points)
    target = OutputFile(output, overwrite, binary=True, label="--output")
    try:
        figure.savefig(target.handle, format="png")
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()


def _draw_cluster_labels(figure: object, axes: object, points: list[MapPoint]) -> None:
    """Each cluster's label at its centre (largest cluster first; moved off another label's box)."""
    from clapcli.core.map_clusters import centres, draw_labels

    assignment = np.array([p.cluster for p in points])
    if not (assignment > 0).any():
        return
    names = {p.cluster: p.cluster_label for p in points}
    spots = centres(np.array([(p.x, p.y) for p in points]), assignment)
    figure.canvas.draw()  # type: ignore[attr-defined]  # the layout settles first: boxes are measured in it
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    draw_labels(axes, renderer, [(names[c], x, y) for c, (x, y) in sorted(spots.items())])


def library_map(db: Path | None, collection: str, method: str, seed: int, colour: str, *, clusters: int | None = 0,
                labels: Sequence[str] = (), load_model: Callable[[str], EmbeddingModel] | None = None,
                fast: bool = False) -> tuple[list[MapPoint], str]:
    """The map's points (in the collection's row order) and what colours them ("tag" or "folder").

    ``clusters``: how many k-means clusters to label (None: ``map_clusters.auto_clusters``; 0: none). Each
    is named by the nearest of ``labels`` (else the collection's tag labels, else a built-in vocabulary),
    embedded once by ``load_model(the collection's model id)``, which must return the collection's model;
    without ``load_model`` a cluster is named "cluster N". ``fast``: UMAP unseeded on every core."""
    from clapcli.store import open_store
    from clapcli.store.tags import tag_set

    if colour not in COLOURS:
        raise InvalidField("color_by", "must be one of {known}", known=", ".join(COLOURS))
    with open_store(db, readonly=True) as store:
        target = store.collection(collection, create=False)
        stored = target.load_matrix(cache=False)
        paths = target.paths(stored.ids.tolist())
        tags = tag_set(target)
        if colour == "tag" and tags is None:
            raise UsageError(f"collection '{collection}' in {store.path} has no tags; run 'clap tag --db "
                             f"{store.path} --labels-file FILE' first, or colour by folder")
        use = "tag" if colour == "tag" or (colour == "auto" and tags is not None) else "folder"
        top = _top_tags(store.connection, target.id) if use == "tag" else {}
        n = len(stored.ids)
        _check_size(n)  # before a model is loaded for nothing
        wanted = _cluster_count(clusters, n, _candidates(labels, tags) if load_model is not None else None)
        model = None
        if wanted and load_model is not None:
            model = load_model(target.model_id)
            target.check_model(model.model_id, model.embedding_dim)  # one line: another model is refused
    coordinates = project(stored.vectors, method, seed, fast=fast)
    names = [paths[i] for i in stored.ids.tolist()]
    groups = [top.get(i, "untagged") for i in stored.ids.tolist()] if use == "tag" else groups_by_folder(names)
    assignment, names_of = _clusters(stored.vectors, wanted, seed, model, labels, tags)
    points = [MapPoint(name, float(x), float(y), group, int(c), names_of.get(int(c), ""))
              for name, (x, y), group, c in zip(names, coordinates.tolist(), groups, assignment.tolist(), strict=True)]
    return points, use


def _candidates(labels: Sequence[str], tags: object) -> tuple[list[str], str]:
    from clapcli.core.map_clusters import prompt_labels

    return prompt_labels(labels, getattr(tags, "labels", None))


def _cluster_count(clusters: int | None, n: int, candidates: tuple[list[str], str] | None) -> int:
    """``clusters``, or by default ``auto_clusters(n)`` but no more than the labels to name them (6 tags: 6
    clusters, not 8 with two names twice)."""
    from clapcli.core.map_clusters import auto_clusters, check_clusters

    if clusters is not None:
        return check_clusters(clusters, n)
    return min(auto_clusters(n), max(2, len(candidates[0]))) if candidates else auto_clusters(n)


def _clusters(vectors: np.ndarray, wanted: int, seed: int, model: EmbeddingModel | None, labels: Sequence[str],
              tags: object) -> tuple[np.ndarray, dict[int, str]]:
    """(each row's cluster, 0 when none asked; each cluster's label)."""
    if not wanted:
        return np.zeros(len(vectors), dtype=np.int64), {}
    from clapcli.core.map_clusters import cluster_means, kmeans, nearest_prompts

    assignment = kmeans(vectors, wanted, seed)
    if model is None:
        return assignment, {c: f"cluster {c}" for c in range(1, wanted + 1)}
    candidates, source = _candidates(labels, tags)
    template = getattr(tags, "template", None) if source == "tags" else None
    named = nearest_prompts(cluster_means(vectors, assignment, wanted), model, candidates, template)
    return assignment, dict(enumerate(named, start=1))


def _top_tags(connection: object, collection_id: int) -> dict[int, str]:
    rows = connection.execute(  # type: ignore[attr-defined]
        "SELECT t.item_id, t.label, max(t.score) FROM tags t JOIN items i ON i.id = t.item_id "
        "WHERE i.collection_id = ? GROUP BY t.item_id", (collection_id,))
    return {item: label for item, label, _ in rows}
