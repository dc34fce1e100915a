"""Pure ASGI middleware of the service: access log + metrics, security headers, body receipt deadline,
overload shedding, body size limit; and the HTTP protocol that closes connections whose request head is slow."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

access_log = logging.getLogger("medcite.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Characters written as escapes in log fields: a newline would start a forged line, escape sequences drive
# the reader's terminal, a space would start a forged key=value field, a backslash could fake an escape.
_LOG_UNSAFE = re.compile(r"[\\\s\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


def _escaped(match: re.Match) -> str:
    """One unsafe character as a Python-style escape (\\n, \\x1b, \\x20, \\u2028, \\\\)."""
    char = match.group()
    return "\\x20" if char == " " else char.encode("unicode_escape").decode("ascii")


def log_field(value: object) -> str:
    """A value safe to put in one key=value log line: control characters, spaces and backslashes escaped."""
    return _LOG_UNSAFE.sub(_escaped, str(value))


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
            log_field(scope["method"]), log_field(scope["path"]), status, seconds * 1000, request_id,
        )


class Overloaded(HTTPException):
    """Too many requests in flight: 503 with Retry-After (an HTTPException, so it can be raised from the
    body receipt inside the app and still become the app's JSON error)."""

    def __init__(self, retry_after_s: int):
        super().__init__(503, "server is busy: too many requests in flight, retry later",
                         headers={"Retry-After": str(retry_after_s)})


# Methods whose body (if any) the routes never read: admitted when they arrive.
_BODILESS = ("GET", "HEAD", "DELETE", "OPTIONS")


def _expects_body(scope) -> bool:
    """Whether a request announces a body that its route will read (Content-Length > 0 or chunked)."""
    if scope.get("method") in _BODILESS:
        return False
    length = _header(scope, b"content-length")
    return bool(_header(scope, b"transfer-encoding")) or (length is not None and length.strip() not in ("", "0"))


class OverloadMiddleware:
    """Admit at most `limit` requests at once to the working routes; refuse the rest with 503 now,
    rather than queueing them until they time out. Health and metrics are never limited.

    A request with a body is admitted once its body has arrived, not when its headers do: a client that
    trickles a body in costs no work until then, so slow senders cannot fill the in-flight slots
    (BodyDeadlineMiddleware bounds how long they may take)."""

    EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.ico")

    def __init__(self, app, limit: int, retry_after_s: int, metrics: Metrics):
        self.app, self.limit, self.retry_after, self.metrics = app, limit, retry_after_s, metrics
        self.in_flight = 0

    def _admit(self) -> bool:
        """Take an in-flight slot, or count a rejection and return False."""
        if self.in_flight >= self.limit:
            self.metrics.rejected.inc()
            return False
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        return True

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(self.EXEMPT):
            return await self.app(scope, receive, send)
        admitted = False
        if not _expects_body(scope):
            if not self._admit():
                busy = Overloaded(self.retry_after)
                return await send_json(send, 503, {"detail": busy.detail},
                                       [(k.lower().encode(), v.encode()) for k, v in busy.headers.items()])
            admitted = True

        async def admitting_receive():
            nonlocal admitted
            message = await receive()
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            if not admitted and body_done:
                if not self._admit():
                    raise Overloaded(self.retry_after)
                admitted = True
            return message

        try:
            await self.app(scope, admitting_receive, send)
        finally:
            if admitted:
                self.in_flight -= 1
                self.metrics.in_flight.set(self.in_flight)


class BodyTimeout(HTTPException):
    """The request body did not arrive in time: 408, and the connection is closed."""

    def __init__(self, timeout_s: float):
        super().__init__(408, f"request body not received within {timeout_s:g} s",
                         headers={"Connection": "close"})


class BodyDeadlineMiddleware:
    """The whole request body must arrive within `timeout_s` of the request (uploads to POST /documents:
    `upload_timeout_s`), however it is paced; otherwise 408 and the connection is closed. Without it a
    client sending one byte every few seconds holds its request open for ever."""

    def __init__(self, app, timeout_s: float, upload_timeout_s: float):
        self.app, self.timeout_s, self.upload_timeout_s = app, timeout_s, upload_timeout_s

    def timeout_for(self, scope) -> float:
        """The body deadline of this request, in seconds."""
        if scope["method"] == "POST" and scope["path"].rstrip("/") == "/documents":
            return self.upload_timeout_s
        return self.timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        timeout = self.timeout_for(scope)
        deadline = time.monotonic() + timeout
        body_done = False
        started = False

        async def timed_receive():
            nonlocal body_done
            if body_done:  # afterwards receive() only waits for a disconnect: no deadline
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(timeout) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimeout as exc:
            if started:
                raise
            await send_json(send, 408, {"detail": exc.detail}, [(b"connection", b"close")])


# The browser defences of every response. The page and its static files load only from this origin and
# cannot be framed; JSON is never sniffed into something executable; no referrer leaves with a link.
PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from a CDN: they keep only the headers below.
_CDN_PAGES = ("/docs", "/redoc")
_COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                   (b"x-frame-options", b"DENY")]


class SecurityHeadersMiddleware:
    """Content-Security-Policy, X-Content-Type-Options, Referrer-Policy and X-Frame-Options on responses."""

    def __init__(self, app):
        self.app = app

    @staticmethod
    def _csp(scope, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        """The policy for this response: strict for JSON, same-origin for the page and static files."""
        path = scope.get("path", "")
        if path.startswith(_CDN_PAGES):
            return None
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        return (JSON_CSP if content_type.startswith(b"application/json") else PAGE_CSP).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in _COMMON_HEADERS if k not in present]
                csp = self._csp(scope, headers)
                if csp is not None and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


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


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a deadline for the request line and headers.

    uvicorn's keep-alive timer starts only after a response and is reset by every byte received, so a
    connection that never sends a request, or sends its headers one byte at a time, stays open for ever.
    Here the head of each request must be complete within `head_timeout_s` of the connection opening or
    of the previous response; otherwise the connection is closed."""

    head_timeout_s = 10.0
    _head_timer = None

    def connection_made(self, transport) -> None:  # noqa: D102 - asyncio.Protocol
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:  # noqa: D102 - httptools callback
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:  # noqa: D102 - uvicorn callback
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_deadline()

    def connection_lost(self, exc) -> None:  # noqa: D102 - asyncio.Protocol
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        """Start (or restart) the clock for the next request head."""
        self._disarm_head_deadline()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        """Stop the clock: a request head arrived or the connection is gone."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        """Close a connection whose request head did not arrive in time."""
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def server_options(settings) -> dict:
    """uvicorn keyword arguments that bound idle, slow and excess connections (used by `medcite serve`)."""
    protocol = type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                    {"head_timeout_s": float(settings.header_timeout_s)})
    return {"http": protocol, "timeout_keep_alive": settings.keep_alive_s,
            "limit_concurrency": settings.max_connections,
            "timeout_graceful_shutdown": settings.graceful_shutdown_s}
