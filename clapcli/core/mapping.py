"""``clap map``: a 2-D map of a library collection's embeddings, each point coloured by its top tag or folder.

Methods: ``pca`` (numpy, no extra, signs fixed so a run is repeatable), ``tsne`` (scikit-learn) and
``umap`` (umap-learn), both in the ``map`` extra and seeded, so the same library and ``seed`` give the same
coordinates. Cosine is the metric the embeddings are searched with; vectors are L2-normalized, so PCA and
t-SNE on them follow it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clapcli.errors import InvalidField, UsageError, missing_extra

METHODS = ("pca", "tsne", "umap")
COLOURS = ("auto", "tag", "folder")
LEGEND_GROUPS = 12  # named in the legend; the rest share one grey "other"


@dataclass(frozen=True)
class MapPoint:
    path: str
    x: float
    y: float
    group: str  # the top tag, or the folder


def project(vectors: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates of the rows of ``vectors``."""
    if method not in METHODS:
        raise InvalidField("method", "must be one of {known}", known=", ".join(METHODS))
    n = vectors.shape[0]
    if n < 3:
        raise UsageError(f"a map needs at least 3 items; the collection has {n}")
    if method == "pca":
        return _pca(vectors)
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise missing_extra("scikit-learn", "map") from None
        perplexity = float(min(30, max(2, (n - 1) // 3)))
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine").fit_transform(vectors)
    try:
        import umap
    except ImportError:
        raise missing_extra("umap-learn", "map") from None
    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed, n_jobs=1,
                        init="spectral" if n > 16 else "random")
    return np.asarray(reducer.fit_transform(vectors), dtype=np.float64)


def _pca(vectors: np.ndarray) -> np.ndarray:
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    # The two leading eigenvectors of the (dim x dim) scatter matrix: one pass over the rows, where an SVD
    # of the tall matrix also builds its (n x dim) left factor (135 s vs a few at 100,000 x 512 here).
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    axes = eigenvectors[:, ::-1][:, :2].T
    # An SVD's signs are arbitrary: make each axis's largest loading positive, so reruns agree.
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    return centred @ (axes * signs[:, None]).T


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
    target = OutputFile(output, overwrite, binary=True, label="--output")
    try:
        figure.savefig(target.handle, format="png")
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()


def library_map(db: Path | None, collection: str, method: str, seed: int, colour: str) -> tuple[list[MapPoint], str]:
    """The map's points (in the collection's row order) and what colours them ("tag" or "folder")."""
    from clapcli.store import open_store
    from clapcli.store.tags import tag_set

    if colour not in COLOURS:
        raise InvalidField("color_by", "must be one of {known}", known=", ".join(COLOURS))
    with open_store(db, readonly=True) as store:
        target = store.collection(collection, create=False)
        stored = target.load_matrix(cache=False)
        paths = target.paths(stored.ids.tolist())
        tagged = tag_set(target) is not None
        if colour == "tag" and not tagged:
            raise UsageError(f"collection '{collection}' in {store.path} has no tags; run 'clap tag --db "
                             f"{store.path} --labels-file FILE' first, or colour by folder")
        use = "tag" if colour == "tag" or (colour == "auto" and tagged) else "folder"
        top = _top_tags(store.connection, target.id) if use == "tag" else {}
    coordinates = project(stored.vectors, method, seed)
    names = [paths[i] for i in stored.ids.tolist()]
    groups = [top.get(i, "untagged") for i in stored.ids.tolist()] if use == "tag" else groups_by_folder(names)
    points = [MapPoint(name, float(x), float(y), group)
              for name, (x, y), group in zip(names, coordinates.tolist(), groups, strict=True)]
    return points, use


def _top_tags(connection: object, collection_id: int) -> dict[int, str]:
    rows = connection.execute(  # type: ignore[attr-defined]
        "SELECT t.item_id, t.label, max(t.score) FROM tags t JOIN items i ON i.id = t.item_id "
        "WHERE i.collection_id = ? GROUP BY t.item_id", (collection_id,))
    return {item: label for item, label, _ in rows}
