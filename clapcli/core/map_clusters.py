"""Cluster labels of ``clap map``: k-means clusters of the embeddings, each named by the text prompt nearest
to its mean embedding, and drawn at the cluster's centre on the map.

Why k-means on the embeddings (not a density clustering of the 2-D layout): a label is the prompt nearest
to the cluster's *mean embedding*, a quantity of the embedding space; k-means makes exactly the clusters
that a mean describes best, it assigns every item (HDBSCAN leaves "noise" unlabelled), its number of
clusters is the number of labels the user will read, and the clusters do not depend on the projection
(PCA, t-SNE and UMAP maps of one library carry the same labels). Vectors are L2-normalized, so Euclidean
k-means on them follows cosine. Seeded with ``--seed``. Notes: docs/library-tools.md ("Cluster labels").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clapcli.core.text import encode_texts
from clapcli.errors import InvalidField, missing_extra
from clapcli.models.base import EmbeddingModel

MAX_AUTO_CLUSTERS = 12  # as many as the legend names: more labels than that crowd the map
MAX_CLUSTERS = 50

# General sound and music categories, for a library without tags and without --labels-file: broad
# classes in the spirit of AudioSet's top levels and of a sample browser's folders.
VOCABULARY = (
    "speech", "singing", "choir", "laughter", "crowd", "applause", "footsteps", "breathing",
    "dog", "cat", "birds", "insects", "farm animals",
    "rain", "water", "sea waves", "wind", "thunder", "fire",
    "car", "engine", "train", "aircraft", "siren", "alarm", "bell", "door", "glass", "impact", "explosion",
    "gunshot", "tools", "machine", "keyboard typing", "clock ticking", "kitchen", "noise", "silence",
    "drums", "kick drum", "snare drum", "hi-hat", "cymbal", "percussion", "bass", "bass guitar",
    "electric guitar", "acoustic guitar", "piano", "organ", "synthesizer", "synth pad", "strings", "violin",
    "brass", "trumpet", "woodwind", "flute", "vocals", "electronic music", "hip hop music", "rock music",
    "jazz", "classical music", "ambient music", "orchestral music", "sound effect", "riser", "whoosh",
)


def auto_clusters(n: int) -> int:
    """About sqrt(n / 10), between 2 and ``MAX_AUTO_CLUSTERS`` (1,440 items or more: 12)."""
    return int(min(MAX_AUTO_CLUSTERS, max(2, round(np.sqrt(n / 10)))))


def check_clusters(clusters: int, n: int) -> int:
    if clusters < 0 or clusters > MAX_CLUSTERS:
        raise InvalidField("clusters", "{clusters} {value} must be between 0 (none) and {most}",
                           value=clusters, most=MAX_CLUSTERS)
    return min(clusters, n)


def kmeans(vectors: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """(n,) cluster numbers 1..clusters, 1 the largest cluster (ties: the one k-means numbered first)."""
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        raise missing_extra("scikit-learn", "map") from None
    found = KMeans(n_clusters=clusters, random_state=seed, n_init=1).fit_predict(vectors.astype(np.float32))
    sizes = np.bincount(found, minlength=clusters)
    order = np.argsort(-sizes, kind="stable")  # k-means' number -> rank by size
    rank = np.empty(clusters, dtype=np.int64)
    rank[order] = np.arange(1, clusters + 1)
    return rank[found]


def cluster_means(vectors: np.ndarray, assignment: np.ndarray, clusters: int) -> np.ndarray:
    """(clusters, dim) mean embedding of each cluster (row c-1 for cluster c)."""
    sums = np.zeros((clusters, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, assignment - 1, vectors.astype(np.float64))
    return sums / np.maximum(np.bincount(assignment - 1, minlength=clusters), 1)[:, None]


def nearest_prompts(means: np.ndarray, model: EmbeddingModel, labels: Sequence[str], template: str | None = None
                    ) -> list[str]:
    """For each row of ``means``, the label whose prompt (``template`` around it; default the model's)
    embeds nearest: highest cosine (or dot product, for a model that scores by it), as ``clap classify``."""
    template = template if template is not None and "{}" in template else model.default_template
    cosine = model.similarity == "cosine"
    texts = encode_texts(model, [template.replace("{}", label) for label in labels], normalize=cosine)
    similarity = means @ texts.T.astype(np.float64)  # a mean's own length scales its row: same argmax
    return [labels[i] for i in similarity.argmax(axis=1)]


def prompt_labels(given: Sequence[str], tag_labels: Sequence[str] | None) -> tuple[list[str], str]:
    """The candidate labels and where they come from: given (--labels-file), the library's tags, or built in."""
    given = list(dict.fromkeys(label.strip() for label in given if label.strip()))
    if given:
        return given, "labels"
    if tag_labels:
        return list(tag_labels), "tags"
    return list(VOCABULARY), "built-in vocabulary"


def centres(xy: np.ndarray, assignment: np.ndarray) -> dict[int, tuple[float, float]]:
    """Where each cluster's label goes: the member nearest the members' median position, so a label always
    sits on a point of its cluster (a mean position can fall between two lobes of one cluster)."""
    out: dict[int, tuple[float, float]] = {}
    for cluster in np.unique(assignment[assignment > 0]).tolist():
        members = xy[assignment == cluster]
        median = np.median(members, axis=0)
        nearest = members[((members - median) ** 2).sum(axis=1).argmin()]
        out[int(cluster)] = (float(nearest[0]), float(nearest[1]))
    return out


def draw_labels(axes: Any, renderer: Any, spots: Sequence[tuple[str, float, float]]) -> None:
    """Each (text, x, y) drawn at its spot, or moved (with a leader line) to the nearest offset where its
    box overlaps no label drawn before it; the first (largest cluster) keeps its spot."""
    placed: list[Any] = []
    offsets = [(0.0, 0.0)] + [(r * dx, r * dy) for r in (14, 28, 42, 56, 70)
                              for dx, dy in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1))]
    frame = axes.get_window_extent(renderer)
    for text, x, y in spots:
        note = axes.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", ha="center", va="center",
                             fontsize=9, fontweight="bold", zorder=5,
                             bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85,
                                   "edgecolor": "0.3", "linewidth": 0.6})
        note.set_in_layout(False)
        for dx, dy in offsets:
            note.xyann = (dx, dy)
            box = note.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                break
        else:
            note.xyann = (0.0, 0.0)  # nowhere free: on its own spot, over the others
        if note.xyann != (0.0, 0.0):
            axes.annotate("", (x, y), xytext=note.xyann, textcoords="offset points", zorder=4,
                          arrowprops={"arrowstyle": "-", "color": "0.3", "linewidth": 0.6}).set_in_layout(False)
        placed.append(note.get_window_extent(renderer))
