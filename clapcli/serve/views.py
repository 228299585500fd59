"""The page's views beside the search: the map, the duplicates and the tags (``views_map``, ``views_dups``,
``views_tags``), their background jobs (``jobs``) and the 202 answer of one still being computed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from clapcli.serve.views_tags import Filters

__all__ = ["Filters", "add_view_routes"]


def add_view_routes(app: FastAPI, library: Any, default_collection: str) -> None:
    """Routes of the three views; one ``Jobs`` (one background computation at a time) for the map and duplicates."""
    from clapcli.serve.jobs import Jobs, NotReady
    from clapcli.serve.views_dups import add_duplicate_routes
    from clapcli.serve.views_map import add_map_routes
    from clapcli.serve.views_tags import add_tag_routes

    jobs = Jobs()
    app.state.jobs = jobs
    add_map_routes(app, library, jobs, default_collection)
    add_duplicate_routes(app, library, jobs, default_collection)
    add_tag_routes(app, library, default_collection)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"computing": str(exc)}, status_code=202, headers={"Retry-After": "1"})
