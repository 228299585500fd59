"""What a list of hits is made of (the search, a tag's items, the duplicates' files), shared by the API's
routes (``app``) and the page's views (``views_*``), and the refusal of a request asking too much."""

from __future__ import annotations

from pydantic import BaseModel

from clapcli.errors import UsageError


class TooMuchWork(UsageError):
    """More items in one request than the server takes (answered with 413)."""


class WindowOut(BaseModel):
    """Another window of the same file (segment collections), playable from ``start``."""

    id: int
    score: float
    start: float | None
    end: float | None


class HitOut(BaseModel):
    rank: int
    score: float  # cosine similarity
    id: int
    path: str  # the file (never with a #t= fragment)
    name: str
    relpath: str  # the file relative to the library root (the common folder of the collection's files)
    duration: float | None
    start: float | None = None  # segment collections: the best window's start in the file (seconds)
    end: float | None = None
    audio_url: str
    peaks_url: str  # the waveform thumbnail's min/max per column (add ?width=N)
    windows: list[WindowOut] = []  # segment collections: the file's next-best windows, best first
