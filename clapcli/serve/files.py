"""Routes that read a library file: the audio stream (or download) and its waveform peaks.

Both take a collection and an item id, never a path, and go through ``LibraryState.audio_file``:
the file must lie in a folder the library recorded and hold the bytes ``clap embed`` hashed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from clapcli.errors import InputError
from clapcli.serve.guards import JsonErrorFileResponse
from clapcli.serve.peaks import MAX_WIDTH, PeakCache


class PeaksOut(BaseModel):
    width: int  # columns given (fewer than asked when the file has fewer samples)
    duration: float  # seconds
    min: list[float]
    max: list[float]


def add_file_routes(app: Any, library: Any) -> None:
    cache = PeakCache()
    app.state.peaks = cache

    # ``:path``: a collection name may hold "/" (sent encoded as %2F, which the router sees decoded).
    @app.get("/api/audio/{collection:path}/{item_id}", summary="Stream a library file (HTTP Range supported)",
             response_class=FileResponse)
    async def audio(collection: str, item_id: int,
                    download: Annotated[bool, Query(description="Send as an attachment (save as)")] = False,
                    ) -> FileResponse:
        path, _ = await run_in_threadpool(library.audio_file, collection, item_id)  # may hash the file
        if download:
            return JsonErrorFileResponse(path, filename=path.name, content_disposition_type="attachment",
                                         headers={"Cache-Control": "no-store"})
        return JsonErrorFileResponse(path, headers={"Cache-Control": "no-store"})

    @app.get("/api/peaks/{collection:path}/{item_id}", response_model=PeaksOut,
             summary="Min and max sample per column of a library file (waveform thumbnail)")
    async def peaks(collection: str, item_id: int,
                    width: Annotated[int, Query(ge=1, le=MAX_WIDTH, description="Columns")] = 200) -> PeaksOut:
        def compute() -> PeaksOut:
            path, item = library.audio_file(collection, item_id)  # the same checks as streaming
            try:
                low, high, duration = cache.get(path, item.hash, width)
            except InputError as exc:
                raise InputError(f"item {item_id}: {exc}") from None
            return PeaksOut(width=len(low), duration=round(duration, 6), min=low.tolist(), max=high.tolist())

        return await run_in_threadpool(compute)
