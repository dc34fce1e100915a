"""Pure ASGI middleware of the service: access log + metrics, overload shedding, body size limit."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

access_log = logging.getLogger("medcite.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Metrics:
    """Prometheus collectors on a registry of their own, so each app (and test) starts from zero."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("medcite_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("medcite_request_duration_seconds", "HTTP request latency", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.in_flight = Gauge("medcite_in_flight_requests", "requests being served (limited routes)",
                               registry=self.registry)
        self.rejected = Counter("medcite_rejected_requests", "requests refused with 503 because of overload",
                                registry=self.registry)
        self.answers = Counter("medcite_answers", "answers given", ["abstained"], registry=self.registry)
        self.chunks = Gauge("medcite_index_chunks", "chunks in the served index", registry=self.registry)
        self.documents = Gauge("medcite_index_documents", "documents in the served index", registry=self.registry)
        self.ready = Gauge("medcite_ready", "1 when model and index are loaded", registry=self.registry)


async def send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Send a whole JSON response from middleware (before the app has started one)."""
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


def _header(scope, name: bytes) -> str | None:
    """The first value of a request header, decoded."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def route_label(scope) -> str:
    """The matched route's template (bounded label set), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    return "/static" if scope.get("path", "").startswith("/static/") else "<unmatched>"


class AccessLogMiddleware:
    """One structured log line and metrics per request; echoes or creates X-Request-ID."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - start, request_id)

    def _record(self, scope, status: int, seconds: float, request_id: str) -> None:
        """Log the line and count the request; the question text never appears here."""
        route = route_label(scope)
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        access_log.info(
            "method=%s path=%s status=%d latency_ms=%.1f request_id=%s",
            scope["method"], scope["path"], status, seconds * 1000, request_id,
        )


class OverloadMiddleware:
    """Admit at most `limit` requests at once to the working routes; refuse the rest with 503 now,
    rather than queueing them until they time out. Health and metrics are never limited."""

    EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.ico")

    def __init__(self, app, limit: int, retry_after_s: int, metrics: Metrics):
        self.app, self.limit, self.retry_after, self.metrics = app, limit, retry_after_s, metrics
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(self.EXEMPT):
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            self.metrics.rejected.inc()
            return await send_json(send, 503, {"detail": "server is busy: too many requests in flight, retry later"},
                                   [(b"retry-after", str(self.retry_after).encode())])
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.set(self.in_flight)


class BodyTooLarge(HTTPException):
    """The streamed request body passed the limit (an HTTPException, so the app's handler answers 413
    even when a body parser catches other exceptions)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: the limit is {limit:,} bytes")


class BodyLimitMiddleware:
    """413 for bodies over the limit: by Content-Length up front, and by counting the streamed bytes
    (chunked requests carry no length). Uploads to POST /documents get their own, larger limit."""

    def __init__(self, app, limit: int, upload_limit: int):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    def limit_for(self, scope) -> int:
        """The byte limit of this request."""
        if scope["method"] == "POST" and scope["path"].rstrip("/") == "/documents":
            return self.upload_limit
        return self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope)
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await send_json(send, 413, {"detail": BodyTooLarge(limit).detail})
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json(send, 413, {"detail": exc.detail})
