"""What routes depend on: the loaded model + index (ServiceState), FastAPI dependencies, and `run_cpu`."""
from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Depends, HTTPException, Request

from service import schemas
from service.candidates import PROFILE_CACHE_CHUNKS, warm_profiles
from service.errors import index_unavailable, public_text
from service.middleware import Metrics
from service.settings import Settings

log = logging.getLogger("medcite.service")


# --- loading the model and the index ------------------------------------------------------


def load_model(settings: Settings):
    """The embedder named by settings (MEDCITE_MODEL), warmed up with one call."""
    from index.embedder import load_embedder

    # requests already run on `cpu_workers` threads; one inference thread each avoids oversubscribing the cores
    embedder = load_embedder(**settings.embedder_options(), threads=1)
    embedder.embed(["warm up"])
    return embedder


def open_index(settings: Settings, embedder):
    """The index at settings.index, validated against the embedder."""
    from index.store import Index

    return Index.open(settings.index, embedder, **settings.index_options())


@dataclass
class Loaded:
    """The model and index a request works with (a consistent pair, swapped as one).

    `readers` counts the requests using it; once it is replaced (`retired`) the last of them closes the
    index, which releases its generation for garbage collection and its files' disk space."""

    embedder: Any
    index: Any
    documents: list = field(default_factory=list)
    readers: int = 0
    retired: bool = False


def close_index(index) -> None:
    """Close an index that is no longer served (test fakes may have nothing to close)."""
    close = getattr(index, "close", None)
    if close is not None:
        close()


class ServiceState:
    """What the app has loaded, whether it is ready, and why not."""

    def __init__(self, settings: Settings, metrics: Metrics, load_model_fn=load_model, open_index_fn=open_index):
        self.settings, self.metrics = settings, metrics
        self.load_model_fn, self.open_index_fn = load_model_fn, open_index_fn
        self.embedder = None
        self.loaded: Loaded | None = None
        self.reason = "loading the model and the index"
        self.write_lock = threading.Lock()
        self._readers_lock = threading.Lock()  # guards `loaded` swaps and every Loaded.readers count
        self.limiter: anyio.CapacityLimiter | None = None
        # Writes queue for the write lock on a thread of their own, never on the readers' threads.
        self.write_limiter: anyio.CapacityLimiter | None = None
        self.started = time.monotonic()
        self.ready_after_s: float | None = None
        self.settled = threading.Event()  # set once loading has finished, served or not (tests wait on it)

    def load(self) -> None:
        """Load model then index (runs in a background thread so the server binds at once)."""
        try:
            self._load()
        finally:
            self.settled.set()

    def _load(self) -> None:
        """Load the model, open the index, then freeze what they allocated."""
        try:
            self.embedder = self.load_model_fn(self.settings)
        except Exception as exc:  # noqa: BLE001 - any failure becomes the /readyz reason
            log.exception("model failed to load")
            self.reason = public_text(f"model failed to load: {type(exc).__name__}: {exc}", self.settings.index)
            return
        self.reopen()
        self.recover_uploads()
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
            self._swap(None)
            reason = index_unavailable(exc, self.settings.index)
            self.reason = public_text(reason, self.settings.index)
            self.metrics.ready.set(0)
            log.error("index not served: %s", reason)
            return
        self._swap(Loaded(self.embedder, index, documents))
        self.metrics.chunks.set(len(index))
        self.metrics.documents.set(len(documents))
        self.metrics.ready.set(1)
        if self.ready_after_s is None:
            self.ready_after_s = time.monotonic() - self.started
            log.info("ready in %.2f s: %d chunks, %d documents", self.ready_after_s, len(index), len(documents))
        if len(index) <= PROFILE_CACHE_CHUNKS:
            threading.Thread(target=warm, args=(index, [d.doc_id for d in documents]), daemon=True,
                             name="warm-profiles").start()


    def recover_uploads(self) -> None:
        """Settle the files an upload interrupted by a crash left behind (see service/uploads.py)."""
        from ingest.documents import content_hash
        from ingest.readers import change_key
        from service.uploads import recover

        with self.write_lock:
            loaded = self.loaded
            if loaded is None or not hasattr(loaded.index, "file_digests"):
                return
            settled = recover(self.settings.index, loaded.index.file_digests(),
                              lambda path: change_key(path, content_hash(path.read_bytes())))
        if settled:
            log.warning("settled files of interrupted uploads: %s", ", ".join(settled))

    def _swap(self, new: Loaded | None) -> None:
        """Serve `new`; the index it replaces is closed now if unused, else by its last reader."""
        with self._readers_lock:
            old, self.loaded = self.loaded, new
            if old is not None:
                old.retired = True
            unused = old is not None and old.readers == 0
        if unused:
            close_index(old.index)

    def current(self) -> Loaded:
        """What is served now, or 503 with the reason nothing is."""
        loaded = self.loaded
        if loaded is None:
            raise HTTPException(503, self.reason, headers={"Retry-After": str(self.settings.retry_after_s)})
        return loaded

    def acquire(self) -> Loaded:
        """What is served now, counted as in use until release() (503 when nothing is served)."""
        with self._readers_lock:
            loaded = self.current()
            loaded.readers += 1
            return loaded

    def release(self, loaded: Loaded) -> None:
        """A request is done with `loaded`: the last reader of a replaced index closes it."""
        with self._readers_lock:
            loaded.readers -= 1
            unused = loaded.retired and loaded.readers == 0
        if unused:
            close_index(loaded.index)


# --- dependencies ------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    """The app's settings (tests build the app with their own)."""
    return request.app.state.settings


def get_state(request: Request) -> ServiceState:
    """The app's loaded model/index holder."""
    return request.app.state.service


async def get_loaded(state: ServiceState = Depends(get_state)) -> AsyncIterator[Loaded]:
    """The loaded model + index, held for the whole request (or 503 with the reason they are not there)."""
    loaded = state.acquire()
    try:
        yield loaded
    finally:
        state.release(loaded)


def default_answerer(question: str, index, embedder, top_k: int, filters, disclaimer: str | None):
    """service.answer.answer with the request's options: the core Answer (the route converts it)."""
    from service.answer import answer

    kwargs = {"disclaimer": disclaimer} if disclaimer else {}
    return answer(question, index, embedder, top_k=top_k, filters=filters, **kwargs)


def get_answerer() -> Callable[..., object]:
    """The function that answers a question with an Answer (overridden in tests)."""
    return default_answerer


def require_write_key(request: Request, settings: Settings = Depends(get_settings)) -> None:
    """Write endpoints need `Authorization: Bearer <MEDCITE_API_KEY>`; without a key they are off."""
    key = settings.key()
    if key is None:
        raise HTTPException(403, "write endpoints are disabled: set MEDCITE_API_KEY")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # Header values arrive as bytes (Starlette shows them as Latin-1): compare them with the key's UTF-8 bytes.
    sent = token.strip().encode("latin-1", errors="replace")
    if scheme.lower() != "bearer" or not secrets.compare_digest(sent, key.encode("utf-8")):
        raise HTTPException(401, "missing or wrong API key: send Authorization: Bearer <MEDCITE_API_KEY>",
                            headers={"WWW-Authenticate": "Bearer"})


async def run_cpu(state: ServiceState, fn: Callable, *args):
    """Run model inference / search in the bounded worker pool, off the event loop."""
    return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=state.limiter)


async def run_write(state: ServiceState, fn: Callable, *args):
    """Run an index write off the event loop, one at a time, without taking a reader's thread while it
    waits for the write lock (otherwise queued uploads starve /ask and /search)."""
    return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=state.write_limiter)


def to_filters(f: schemas.FiltersIn | None):
    """Request filters -> index.types.Filters (None when nothing is restricted)."""
    if f is None or (not f.type and f.year_min is None and f.year_max is None):
        return None
    from index.types import Filters

    return Filters(types=tuple(f.type), year_min=f.year_min, year_max=f.year_max)


def warm(index, doc_ids: list[str]) -> None:
    """Profile every chunk's sentences in the background (service/candidates.py warm_profiles): the first
    answers that retrieve a chunk then skip the work. A failure only costs speed, never an answer."""
    started = time.monotonic()
    try:
        count = warm_profiles(index, doc_ids)
    except Exception:  # noqa: BLE001 - a reopened or closed index ends the warm-up; answers compute as before
        log.warning("sentence profiles not warmed", exc_info=True)
        return
    log.info("sentence profiles of %d chunks warmed in %.1f s", count, time.monotonic() - started)
