"""The routes: thin functions that validate, call the core off the event loop, and convert the result."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import schemas
from service.deps import (
    Loaded, ServiceState, get_answerer, get_loaded, get_settings, get_state, require_write_key,
    run_cpu, run_write, to_filters,
)
from service.errors import public_text
from service.settings import Settings

log = logging.getLogger("medcite.service")
router = APIRouter()
STATIC = Path(__file__).parent / "static"
UPLOAD_NAME = re.compile(r"[^A-Za-z0-9._-]+")
META_FIELDS = {"title", "authors", "type", "journal", "year", "url", "doi"}

# The error shapes every route can answer with, so the OpenAPI schema documents them.
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.ErrorOut, "description": "not found"},
    413: {"model": schemas.ErrorOut, "description": "request body too large"},
    422: {"model": schemas.ValidationErrorOut, "description": "invalid input"},
    503: {"model": schemas.ErrorOut, "description": "not ready or overloaded (see Retry-After)"},
}
WRITE_ERRORS = {**ERRORS, 401: {"model": schemas.ErrorOut, "description": "missing or wrong API key"},
                403: {"model": schemas.ErrorOut, "description": "write endpoints disabled"},
                507: {"model": schemas.ErrorOut, "description": "the index's disk is full: nothing was changed"}}
UPLOAD_ERRORS = {**WRITE_ERRORS, 409: {"model": schemas.ErrorOut,
                                       "description": "the file's document id belongs to another source's document"}}


@router.get("/", include_in_schema=False)
def web_page() -> FileResponse:
    """The question page (plain HTML/CSS/JS, nothing from the network)."""
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/healthz", response_model=schemas.Health, tags=["operations"])
def healthz() -> schemas.Health:
    """The process is alive (never waits for the model, the index or the worker pool)."""
    return schemas.Health(status="ok")


@router.get("/readyz", response_model=schemas.Ready, responses={503: ERRORS[503]}, tags=["operations"])
def readyz(state: ServiceState = Depends(get_state)) -> schemas.Ready:
    """Model and index loaded: 200; otherwise 503 with the reason."""
    loaded = state.current()
    return schemas.Ready(status="ready", chunks=len(loaded.index), documents=len(loaded.documents),
                         model=str(getattr(loaded.embedder, "name", "")))


@router.get("/metrics", tags=["operations"], response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/ask", response_model=schemas.AnswerOut, responses=ERRORS, tags=["answers"])
async def ask(
    body: schemas.AskRequest,
    loaded: Loaded = Depends(get_loaded),
    state: ServiceState = Depends(get_state),
    settings: Settings = Depends(get_settings),
    answerer=Depends(get_answerer),
) -> schemas.AnswerOut:
    """An extractive answer whose every sentence is copied from a cited source."""
    if settings.log_questions:
        log.info("question=%r", body.question)
    else:
        log.debug("question=%r", body.question)
    result = await run_cpu(state, answerer, body.question, loaded.index, loaded.embedder, body.top_k,
                           to_filters(body.filters), settings.disclaimer)
    state.metrics.answers.labels("true" if result.abstained else "false").inc()
    return schemas.AnswerOut.from_answer(result)


@router.post("/search", response_model=schemas.SearchResponse, responses=ERRORS, tags=["answers"])
async def search(
    body: schemas.SearchRequest,
    loaded: Loaded = Depends(get_loaded),
    state: ServiceState = Depends(get_state),
) -> schemas.SearchResponse:
    """Ranked chunks for a query (hybrid, bm25 or dense)."""
    hits = await run_cpu(state, lambda: loaded.index.search(body.query, k=body.top_k, mode=body.mode,
                                                            filters=to_filters(body.filters)))
    return schemas.SearchResponse(hits=[schemas.HitOut.from_hit(h) for h in hits])


@router.get("/documents", response_model=schemas.DocumentList, responses=ERRORS, tags=["documents"])
def list_documents(
    loaded: Loaded = Depends(get_loaded),
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> schemas.DocumentList:
    """The indexed documents, in index order, a page at a time."""
    page = loaded.documents[offset:offset + limit]
    return schemas.DocumentList(total=len(loaded.documents), offset=offset,
                                documents=[schemas.DocumentOut.from_record(d) for d in page])


def find_document(index, doc_id: str):
    """The index's record of doc_id, or None."""
    try:
        return index.document(doc_id)
    except KeyError:
        return None


@router.get("/documents/{doc_id}", response_model=schemas.DocumentDetail, responses=ERRORS, tags=["documents"])
async def get_document(doc_id: str, loaded: Loaded = Depends(get_loaded),
                       state: ServiceState = Depends(get_state)) -> schemas.DocumentDetail:
    """One document's record and its chunks."""
    def fetch():
        record = find_document(loaded.index, doc_id)
        return (record, list(loaded.index.chunks_of(doc_id))) if record is not None else (None, [])

    record, chunks = await run_cpu(state, fetch)
    if record is None:
        raise HTTPException(404, f"no document {doc_id!r}")
    chunks_out = [{"chunk_id": c.chunk_id, "heading": c.heading, "page": c.page, "text": c.text} for c in chunks]
    return schemas.DocumentDetail(**schemas.DocumentOut.from_record(record).model_dump(),
                                  chunks=[schemas.ChunkOut(**c) for c in chunks_out])


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "PDF, HTML, Markdown, text or MedQuAD XML"},
        "metadata": {"type": "string", "description": 'JSON object, e.g. {"type": "guideline", "year": 2020}'},
    }}}}}}


def parse_metadata(raw) -> dict | None:
    """The optional metadata field: a JSON object with known bibliographic keys."""
    if raw is None or raw == "":
        return None
    try:
        meta = json.loads(raw)
    except (ValueError, TypeError):
        raise HTTPException(422, "metadata must be a JSON object") from None
    except RecursionError:
        raise HTTPException(422, "metadata is nested too deeply: it must be a flat JSON object") from None
    if not isinstance(meta, dict):
        raise HTTPException(422, "metadata must be a JSON object")
    unknown = sorted(set(meta) - META_FIELDS)
    if unknown:
        raise HTTPException(422, f"metadata has unknown keys {unknown}: allowed are {sorted(META_FIELDS)}")
    return meta


def upload_name(filename: str | None) -> str:
    """A safe file name for an upload that keeps its (supported) suffix."""
    from ingest.readers import SUPPORTED_SUFFIXES

    name = UPLOAD_NAME.sub("_", Path(filename or "").name).strip("._")[-120:]
    suffix = Path(name).suffix.lower()
    if not name or suffix not in SUPPORTED_SUFFIXES or suffix == ".jsonl":
        allowed = ", ".join(s for s in SUPPORTED_SUFFIXES if s != ".jsonl")
        raise HTTPException(422, f"unsupported file type {suffix or '(none)'!r}: expected one of {allowed}")
    return name


def ingest_upload(state: ServiceState, settings: Settings, name: str, data, meta: dict | None) -> tuple[list, str]:
    """Store the upload and run the ordinary ingest on it, all under the write lock; serve the new index and
    return this upload's documents as that index holds them (a concurrent upload cannot swap them)."""
    from service.pipeline import ingest_paths
    from service.uploads import UploadConflict, UploadRefused, public_source, store_and_ingest

    def ingest(path: Path, source: str):
        return ingest_paths([path], settings.index, state.embedder, prune=False, sources={path: source},
                            **settings.ingest_options())

    with state.write_lock:
        try:
            report = store_and_ingest(Path(settings.index), name, data, meta, ingest)
        except UploadConflict as exc:
            raise HTTPException(409, public_text(str(exc), settings.index)) from None
        except UploadRefused as exc:
            # a reader's reason may quote the stored file's server path
            raise HTTPException(422, public_text(f"could not read {name}: {exc}", settings.index)) from None
        state.reopen()
        loaded = state.current()
        docs = [d for d in loaded.documents if d.source == public_source(name)]
    return docs, report.summary_line()


@router.post("/documents", status_code=201, response_model=schemas.UploadResponse, tags=["documents"],
             responses=UPLOAD_ERRORS, openapi_extra=UPLOAD_BODY, dependencies=[Depends(require_write_key)])
async def upload_document(request: Request, state: ServiceState = Depends(get_state),
                          settings: Settings = Depends(get_settings)) -> schemas.UploadResponse:
    """Add (or replace) a document: the file goes through the same ingest as `medcite ingest`."""
    if state.embedder is None:
        raise HTTPException(503, state.reason, headers={"Retry-After": str(settings.retry_after_s)})
    form = await request.form(max_files=1, max_fields=2)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "file is required (multipart field 'file')")
    meta = parse_metadata(form.get("metadata"))
    name = upload_name(upload.filename)
    docs, summary = await run_write(state, ingest_upload, state, settings, name, upload.file, meta)
    return schemas.UploadResponse(documents=[schemas.DocumentOut.from_record(d) for d in docs], report=summary)


def delete_and_reopen(state: ServiceState, settings: Settings, doc_id: str) -> bool:
    """Delete one document from the index on disk and serve the new generation."""
    from index.build import delete_document
    from service.uploads import remove_unused

    with state.write_lock:
        record = find_document(state.loaded.index, doc_id) if state.loaded else None
        deleted = delete_document(settings.index, doc_id)
        if deleted:
            state.reopen()
            name = upload_of(settings, record.source) if record is not None else None
            if name is not None and state.loaded is not None:
                remove_unused(settings.index, name, {d.source for d in state.loaded.documents})
    return deleted


def upload_of(settings: Settings, source: str) -> str | None:
    """The stored upload a document came from (its file name), or None for any other source."""
    from service.uploads import UPLOADS

    if source.startswith(UPLOADS + "/"):
        return source[len(UPLOADS) + 1:]
    uploads = (Path(settings.index) / UPLOADS).resolve()
    path = Path(source)
    # indexes written before upload sources were made relative recorded the server path
    return path.name if path.is_absolute() and path.resolve().parent == uploads else None


@router.delete("/documents/{doc_id}", status_code=204, response_class=Response, tags=["documents"],
               responses=WRITE_ERRORS, dependencies=[Depends(require_write_key)])
async def delete_doc(doc_id: str, state: ServiceState = Depends(get_state),
                     settings: Settings = Depends(get_settings)) -> Response:
    """Remove a document and its chunks from the index."""
    state.current()
    if not await run_write(state, delete_and_reopen, state, settings, doc_id):
        raise HTTPException(404, f"no document {doc_id!r}")
    return Response(status_code=204)
