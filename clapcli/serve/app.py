"""The ASGI app: the page (static files shipped in the package) and the JSON API (OpenAPI at /docs).

Routes never take a file path: audio is streamed by collection and item id (``/api/audio/...``),
so no request can name a file outside the library. Errors are ``{"error": "<one line>"}``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from clapcli.errors import ClapcliError, InputError, UsageError
from clapcli.serve.batching import Busy
from clapcli.serve.engine import Engine, Found, UploadTooLong
from clapcli.serve.files import add_file_routes
from clapcli.serve.guards import (
    DEFAULT_UPLOAD_LIMIT,
    BearerToken,
    BodyLimit,
    HostGuard,
    one_line,
)
from clapcli.serve.hits import HitOut, TooMuchWork, WindowOut
from clapcli.serve.library import Snapshot

STATIC = Path(__file__).with_name("static")
# Work one request may ask for (docs/serve.md): the model lock is held for all of it, so one huge
# request would stall every other client.
MAX_K = 1000  # hits per search
MAX_TEXTS = 256  # texts per /api/embed/text
MAX_LABELS = 256  # labels per /api/classify
MAX_TEXT_CHARS = 1000  # characters per query, text, label or template
WHERE_HELP = "Filters as 'clap retrieve --where' (repeat; all must hold): tag:LABEL>0.5, duration<30, folder:NAME"


class Unprocessable(UsageError):
    """A field the validators cannot express is malformed (answered with 422, like theirs)."""


def check_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise TooMuchWork(f"{count} {what} in one request; send at most {limit} per request")


class SearchOut(BaseModel):
    collection: str
    model: str
    query: str
    hits: list[HitOut]


class CollectionOut(BaseModel):
    name: str
    model: str
    dim: int
    count: int
    version: int
    default: bool
    probe_classes: list[str] | None = None  # 'clap serve --probe' for this model: /api/classify scores these


class LabelScore(BaseModel):
    label: str
    score: float  # softmax(logit_scale * cosine) over the labels, or the probe's probability


class ClassifyOut(BaseModel):
    """The record ``clap classify -f json`` writes for a file, plus the model."""

    path: str  # the upload's file name
    duration: float | None
    model: str
    predictions: list[LabelScore]  # best first
    method: str = "zero-shot"  # "probe": 'clap serve --probe' scored the probe's classes (labels unused)


class EmbedOut(BaseModel):
    model: str
    dim: int
    vectors: list[list[float]]  # unit length
    duration: float | None = None


class TextsIn(BaseModel):
    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]]
    collection: str | None = None


def create_app(engine: Engine, default_collection: str, token: str | None = None,
               upload_limit: int = DEFAULT_UPLOAD_LIMIT, hosts: list[str] | None = None) -> Any:
    app = FastAPI(title="clapcli", version=_version(), docs_url="/docs", redoc_url=None,
                  description="Search a clapcli sound library by text or by example, classify uploads "
                  "zero-shot, embed text or audio. Errors: {\"error\": \"one line\"}.")
    library = engine.library
    from clapcli.serve.views import Filters, add_view_routes  # the page's other views; they import this module

    filters = Filters(library)

    def snapshot(name: str | None) -> Snapshot:
        return library.snapshot(name or default_collection)

    def hits_out(snap: Snapshot, found: list[Found]) -> list[HitOut]:
        out = []
        for hit in found:
            item = snap.items[hit.item_id]
            where = f"{quote(snap.name, safe='')}/{hit.item_id}"
            out.append(HitOut(rank=hit.rank, score=hit.score, id=hit.item_id, path=item.file,
                              name=Path(item.file).name, relpath=snap.relative(item.file), duration=item.duration,
                              start=item.start, end=item.end,
                              audio_url=f"api/audio/{where}", peaks_url=f"api/peaks/{where}",
                              windows=[WindowOut(id=i, score=s, start=snap.items[i].start, end=snap.items[i].end)
                                       for s, i in hit.windows]))
        return out

    async def read_upload(file: UploadFile) -> tuple[bytes, str]:
        data = await file.read()
        name = Path(file.filename or "upload").name or "upload"
        if not data:
            raise InputError(f"{name}: empty file (0 bytes); pick an audio file")
        return data, name

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/collections", response_model=list[CollectionOut], summary="List the library's collections")
    async def collections() -> list[CollectionOut]:
        return [CollectionOut(name=s.name, model=s.model_id, dim=s.dim, count=s.count, version=s.version,
                              default=s.name == default_collection,
                              probe_classes=getattr(engine.probe_for(s.model_id), "classes", None))
                for s in library.snapshots()]

    @app.get("/api/search/text", response_model=SearchOut, summary="Text -> audio search")
    async def search_text(q: Annotated[str, Query(min_length=1, max_length=MAX_TEXT_CHARS,
                                                  description="What to look for")],
                          collection: str | None = None,
                          k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                          where: Annotated[list[str], Query(description=WHERE_HELP)] = []) -> SearchOut:  # noqa: B006
        if not q.strip():
            raise UsageError("the query is empty; type what you are looking for")
        snap = await filters.restrict(snapshot(collection), where)
        found = await asyncio.wrap_future(engine.submit_text_search(snap, q, k))
        return SearchOut(collection=snap.name, model=snap.model_id, query=q, hits=hits_out(snap, found))

    @app.get("/api/search/similar/{item_id}", response_model=SearchOut, summary="More like this library item")
    async def search_similar(item_id: int, collection: str | None = None,
                             k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                             where: Annotated[list[str], Query(description=WHERE_HELP)] = []) -> SearchOut:  # noqa: B006
        snap = snapshot(collection)
        if item_id not in snap.row_of:
            raise LookupError(f"collection '{snap.name}' has no item {item_id}")
        among = await filters.restrict(snap, where)  # the query item itself need not match
        found = await run_in_threadpool(engine.search_vectors, among, snap.vector(item_id)[None], k, item_id)
        return SearchOut(collection=snap.name, model=snap.model_id, query=snap.items[item_id].file,
                         hits=hits_out(snap, found[0]))

    @app.post("/api/search/audio", response_model=SearchOut, summary="Audio -> audio search with an uploaded file")
    async def search_audio(file: UploadFile = File(...), collection: Annotated[str | None, Form()] = None,
                           k: Annotated[int | None, Form(ge=1, le=MAX_K)] = None,
                           k_query: Annotated[int | None, Query(alias="k", ge=1, le=MAX_K,
                                                                description="Or as a form field")] = None,
                           ) -> SearchOut:
        k = k or k_query or 10
        snap = snapshot(collection)
        data, name = await read_upload(file)
        vector, _ = await run_in_threadpool(engine.embed_upload, snap.model_id, data, name)
        found = await run_in_threadpool(engine.search_vectors, snap, vector[None], k)
        return SearchOut(collection=snap.name, model=snap.model_id, query=name, hits=hits_out(snap, found[0]))

    @app.post("/api/classify", response_model=ClassifyOut, summary="Zero-shot classification of an upload")
    async def classify(file: UploadFile = File(...),
                       labels: Annotated[str, Form(description="Comma-separated labels (at least two)")] = "",
                       template: Annotated[str | None, Form(max_length=MAX_TEXT_CHARS,
                                                            description="Prompt with {} for the label")] = None,
                       collection: Annotated[str | None, Form(description="Whose model to use")] = None,
                       ) -> ClassifyOut:
        wanted = [label.strip() for label in labels.split(",") if label.strip()]
        check_count(len(wanted), MAX_LABELS, "labels")
        if any(len(label) > MAX_TEXT_CHARS for label in wanted):
            raise Unprocessable(f"labels: a label has more than {MAX_TEXT_CHARS} characters; use at most "
                                f"{MAX_TEXT_CHARS} characters per label")
        snap = snapshot(collection)
        data, name = await read_upload(file)
        ranked, duration = await run_in_threadpool(engine.classify_upload, snap.model_id, data, name, wanted,
                                                   template)
        return ClassifyOut(path=name, duration=None if duration is None else round(duration, 6), model=snap.model_id,
                           predictions=[LabelScore(label=a, score=b) for a, b in ranked],
                           method="probe" if engine.probe_for(snap.model_id) else "zero-shot")

    @app.post("/api/embed/text", response_model=EmbedOut, summary="Embed texts with a collection's model")
    async def embed_text(body: TextsIn) -> EmbedOut:
        if not body.texts:
            raise UsageError("'texts' is empty; send at least one text")
        check_count(len(body.texts), MAX_TEXTS, "texts")
        snap = snapshot(body.collection)
        vectors = await run_in_threadpool(engine.embed_texts, snap.model_id, body.texts)
        return EmbedOut(model=snap.model_id, dim=int(vectors.shape[1]), vectors=vectors.tolist())

    @app.post("/api/embed/audio", response_model=EmbedOut, summary="Embed an uploaded audio file")
    async def embed_audio(file: UploadFile = File(...), collection: Annotated[str | None, Form()] = None) -> EmbedOut:
        snap = snapshot(collection)
        data, name = await read_upload(file)
        vector, duration = await run_in_threadpool(engine.embed_upload, snap.model_id, data, name)
        return EmbedOut(model=snap.model_id, dim=len(vector), vectors=[vector.tolist()], duration=duration)

    add_file_routes(app, library)
    add_view_routes(app, library, default_collection)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_errors(app)
    app.state.engine = engine
    # The host check comes first: a rebinding page learns nothing, not even whether a token is set.
    wrapped = HostGuard(BodyLimit(BearerToken(app, token), upload_limit), hosts or ["127.0.0.1", "[::1]", "localhost"])
    wrapped.fastapi = app  # type: ignore[attr-defined]
    return wrapped


def _install_errors(app: FastAPI) -> None:
    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": one_line(message)}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such page or file: {request.url.path}"
        return error(exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path"))
        return error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(LookupError)
    async def not_found(request: Request, exc: LookupError) -> JSONResponse:
        return error(404, str(exc).strip("'\""))

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, exc: PermissionError) -> JSONResponse:
        return error(403, str(exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return error(503, str(exc))

    @app.exception_handler(UploadTooLong)
    @app.exception_handler(TooMuchWork)
    async def too_much(request: Request, exc: ClapcliError) -> JSONResponse:
        return error(413, str(exc))

    @app.exception_handler(Unprocessable)
    async def unprocessable(request: Request, exc: Unprocessable) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(ClapcliError)
    async def clapcli_error(request: Request, exc: ClapcliError) -> JSONResponse:
        return error(400 if isinstance(exc, InputError | UsageError) else 500, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error(500, f"unexpected {type(exc).__name__}: {exc}")


def _version() -> str:
    from clapcli.version import __version__

    return __version__
