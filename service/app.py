"""The HTTP service: FastAPI routes over one loaded model + index (CONTRACT.md, "HTTP")."""
from __future__ import annotations

import gc
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import schemas
from service.middleware import AccessLogMiddleware, BodyLimitMiddleware, Metrics, OverloadMiddleware
from service.settings import Settings

log = logging.getLogger("medcite.service")
STATIC = Path(__file__).parent / "static"
UPLOAD_NAME = re.compile(r"[^A-Za-z0-9._-]+")

# The error shapes every route can answer with, so the OpenAPI schema documents them.
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.ErrorOut, "description": "not found"},
    413: {"model": schemas.ErrorOut, "description": "request body too large"},
    422: {"model": schemas.ValidationErrorOut, "description": "invalid input"},
    503: {"model": schemas.ErrorOut, "description": "not ready or overloaded (see Retry-After)"},
}
WRITE_ERRORS = {**ERRORS, 401: {"model": schemas.ErrorOut, "description": "missing or wrong API key"},
                403: {"model": schemas.ErrorOut, "description": "write endpoints disabled"}}


# --- loading the model and the index ------------------------------------------------------


def load_model(settings: Settings):
    """The embedder named by settings (MEDCITE_MODEL), warmed up with one call."""
    from index.embedder import load_embedder

    # requests already run on `cpu_workers` threads; one inference thread each avoids oversubscribing the cores
    embedder = load_embedder(settings.model, threads=1)
    embedder.embed(["warm up"])
    return embedder


def open_index(settings: Settings, embedder):
    """The index at settings.index, validated against the embedder."""
    from index.store import Index

    return Index.open(settings.index, embedder)


def index_error_reason(exc: Exception, index_dir: Path) -> str:
    """One readable line for an index that cannot be served."""
    name = type(exc).__name__
    if name == "IndexNotFound":
        return f"no index at {index_dir}: run `medcite ingest` first"
    if name == "IndexCorrupt":
        return f"index at {index_dir} is corrupt ({exc}): rebuild it with `medcite ingest`"
    if name == "IndexMismatch":
        return f"index at {index_dir} does not match the model: {exc}"
    return f"index at {index_dir} could not be opened: {name}: {exc}"


@dataclass
class Loaded:
    """The model and index a request works with (a consistent pair, swapped as one)."""

    embedder: Any
    index: Any
    documents: list = field(default_factory=list)


class ServiceState:
    """What the app has loaded, whether it is ready, and why not."""

    def __init__(self, settings: Settings, metrics: Metrics, load_model_fn=load_model, open_index_fn=open_index):
        self.settings, self.metrics = settings, metrics
        self.load_model_fn, self.open_index_fn = load_model_fn, open_index_fn
        self.embedder = None
        self.loaded: Loaded | None = None
        self.reason = "loading the model and the index"
        self.write_lock = threading.Lock()
        self.limiter: anyio.CapacityLimiter | None = None
        self.started = time.monotonic()
        self.ready_after_s: float | None = None

    def load(self) -> None:
        """Load model then index (runs in a background thread so the server binds at once)."""
        try:
            self.embedder = self.load_model_fn(self.settings)
        except Exception as exc:  # noqa: BLE001 - any failure becomes the /readyz reason
            log.exception("model failed to load")
            self.reason = f"model failed to load: {type(exc).__name__}: {exc}"
            return
        self.reopen()
        # The ~300k objects of the libraries, model and index live as long as the process: frozen, the
        # garbage collector's full collections (which stall every request in flight) no longer walk them.
        gc.collect()
        gc.freeze()

    def reopen(self) -> None:
        """(Re)open the index and swap it in; on failure nothing is served and readyz says why."""
        try:
            index = self.open_index_fn(self.settings, self.embedder)
            index.search("warm up", k=1)
            documents = list(index.documents())
        except Exception as exc:  # noqa: BLE001 - a corrupt index is never served
            self.loaded = None
            self.reason = index_error_reason(exc, self.settings.index)
            self.metrics.ready.set(0)
            log.error("index not served: %s", self.reason)
            return
        self.loaded = Loaded(self.embedder, index, documents)
        self.metrics.chunks.set(len(index))
        self.metrics.documents.set(len(documents))
        self.metrics.ready.set(1)
        if self.ready_after_s is None:
            self.ready_after_s = time.monotonic() - self.started
            log.info("ready in %.2f s: %d chunks, %d documents", self.ready_after_s, len(index), len(documents))


# --- dependencies ------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    """The app's settings (tests build the app with their own)."""
    return request.app.state.settings


def get_state(request: Request) -> ServiceState:
    """The app's loaded model/index holder."""
    return request.app.state.service


def get_loaded(state: ServiceState = Depends(get_state)) -> Loaded:
    """The loaded model + index, or 503 with the reason they are not there."""
    loaded = state.loaded
    if loaded is None:
        raise HTTPException(503, state.reason, headers={"Retry-After": str(state.settings.retry_after_s)})
    return loaded


def default_answerer(question: str, index, embedder, top_k: int, filters, disclaimer: str | None) -> dict:
    """service.answer composed and turned into the contract JSON."""
    from service.answer import answer, answer_to_dict

    kwargs = {"disclaimer": disclaimer} if disclaimer else {}
    return answer_to_dict(answer(question, index, embedder, top_k=top_k, filters=filters, **kwargs))


def get_answerer() -> Callable[..., dict]:
    """The function that answers a question (overridden in tests)."""
    return default_answerer


def require_write_key(request: Request, settings: Settings = Depends(get_settings)) -> None:
    """Write endpoints need `Authorization: Bearer <MEDCITE_API_KEY>`; without a key they are off."""
    key = settings.key()
    if key is None:
        raise HTTPException(403, "write endpoints are disabled: set MEDCITE_API_KEY")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), key.encode()):
        raise HTTPException(401, "missing or wrong API key: send Authorization: Bearer <MEDCITE_API_KEY>",
                            headers={"WWW-Authenticate": "Bearer"})


async def run_cpu(state: ServiceState, fn: Callable, *args):
    """Run model inference / search in the bounded worker pool, off the event loop."""
    return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=state.limiter)


def to_filters(f: schemas.FiltersIn | None):
    """Request filters -> index.types.Filters (None when nothing is restricted)."""
    if f is None or (not f.type and f.year_min is None and f.year_max is None):
        return None
    from index.types import Filters

    return Filters(types=tuple(f.type), year_min=f.year_min, year_max=f.year_max)


def document_out(d) -> schemas.DocumentOut:
    """A DocumentRecord as the API shows it."""
    m = d.meta
    return schemas.DocumentOut(
        doc_id=d.doc_id, source=d.source, title=m.title, type=m.type, authors=list(m.authors),
        journal=m.journal, year=m.year, url=m.url, doi=m.doi, chunk_count=d.chunk_count,
        questions=list(getattr(d, "questions", ()) or ()),
    )


# --- error handlers ----------------------------------------------------------------------


def _loc(loc: tuple) -> str:
    """A field location without the "body"/"query" prefix: `filters.year_min`."""
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(map(str, loc))
    return ".".join(parts)


def describe_error(err: dict) -> str:
    """One validation error as a sentence that says what is wrong."""
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    kind, where = err.get("type", ""), _loc(tuple(err.get("loc", ())))
    if kind == "json_invalid":
        return f"request body is not valid JSON ({err.get('ctx', {}).get('error', msg)})"
    if kind == "missing" and not where:
        return "request body is required"
    if kind == "missing":
        return f"{where} is required"
    if kind == "model_attributes_type" and not where:
        return "request body must be a JSON object"
    if kind == "extra_forbidden":
        return f"{where} is not an accepted field"
    if msg.startswith(where.split(".")[-1] + " ") or not where:
        return msg
    return f"{where}: {msg}"


async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 whose `detail` says in words what is wrong; `errors` lists every problem."""
    errors = list(exc.errors())
    detail = "; ".join(dict.fromkeys(describe_error(e) for e in errors)) or "invalid request"
    items = [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())],
              "msg": str(e.get("msg", "")).removeprefix("Value error, "), "type": str(e.get("type", ""))}
             for e in errors]
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """Every HTTP error as JSON {"detail": ...} (unknown routes, 405, 413 included)."""
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """500 as JSON; the traceback goes to the log, not to the client."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


# --- the app -----------------------------------------------------------------------------


def create_app(settings: Settings | None = None, *, load_model_fn=load_model, open_index_fn=open_index) -> FastAPI:
    """The FastAPI app; the model and index load in the background once it starts."""
    settings = settings or Settings()
    metrics = Metrics()
    state = ServiceState(settings, metrics, load_model_fn, open_index_fn)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.limiter = anyio.CapacityLimiter(settings.cpu_workers)
        state.started = time.monotonic()
        threading.Thread(target=state.load, name="medcite-load", daemon=True).start()
        yield

    app = FastAPI(
        title="medcite", version="0.1.0", lifespan=lifespan,
        description="Extractive, cited evidence answers over the medical articles you trust.",
    )
    app.state.settings, app.state.service, app.state.metrics = settings, state, metrics
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, server_error_handler)
    add_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Added innermost first: CORS, then the body limit, overload shedding, and the access log outermost.
    if settings.origins():
        app.add_middleware(CORSMiddleware, allow_origins=settings.origins(), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    app.add_middleware(OverloadMiddleware, limit=settings.max_in_flight, retry_after_s=settings.retry_after_s,
                       metrics=metrics)
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    return app


def add_routes(app: FastAPI) -> None:
    """Register every route (kept apart so create_app stays short)."""
    from service import routes  # noqa: F401 - the module defines the routes on a router

    app.include_router(routes.router)
