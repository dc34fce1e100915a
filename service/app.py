"""The HTTP service: FastAPI routes over one loaded model + index (CONTRACT.md, "HTTP")."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import DiskFull
from service import routes
from service.deps import ServiceState, load_model, open_index
from service.middleware import (AccessLogMiddleware, BodyDeadlineMiddleware, BodyLimitMiddleware, Metrics,
                                OverloadMiddleware, SecurityHeadersMiddleware, log_field)
from service.settings import Settings

log = logging.getLogger("medcite.service")


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


# FastAPI answers 400 "There was an error parsing the body" for a JSON body that is not UTF-8 or is nested
# past Python's recursion limit; the interface says invalid input is 422, with a reason.
UNPARSABLE_BODY = {UnicodeDecodeError: "request body is not valid UTF-8",
                   RecursionError: "request body is nested too deeply"}


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """Every HTTP error as JSON {"detail": ...} (unknown routes, 405, 413 included)."""
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    reason = UNPARSABLE_BODY.get(type(exc.__cause__)) if exc.status_code == 400 else None
    if reason is not None:
        return JSONResponse({"detail": reason}, status_code=422)
    return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def disk_full_handler(request: Request, exc: Exception) -> JSONResponse:
    """507 when a write ran out of disk space; the new generation and the upload were discarded."""
    log.error("disk full on %s %s: %s", request.method, log_field(request.url.path), exc.__cause__ or exc)
    return JSONResponse({"detail": str(exc)}, status_code=507)


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """500 as JSON; the traceback goes to the log, not to the client."""
    log.error("unhandled error on %s %s", request.method, log_field(request.url.path), exc_info=exc)
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
        state.write_limiter = anyio.CapacityLimiter(1)
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
    app.add_exception_handler(DiskFull, disk_full_handler)
    app.add_exception_handler(Exception, server_error_handler)
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=routes.STATIC), name="static")
    # Added innermost first: CORS, the body limit, overload shedding (admits a request once its body is in),
    # the body receipt deadline, the security headers, and the access log outermost.
    if settings.origins():
        app.add_middleware(CORSMiddleware, allow_origins=settings.origins(), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    app.add_middleware(OverloadMiddleware, limit=settings.max_in_flight, retry_after_s=settings.retry_after_s,
                       metrics=metrics)
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.body_timeout_s,
                       upload_timeout_s=settings.upload_timeout_s)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    return app

