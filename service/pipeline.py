"""The ingest driver: files -> Documents (ingest/) -> Chunks -> vectors -> a new index generation (index/).

One driver for every caller (`medcite ingest`, `POST /documents`, `medcite eval`). It lives in service/
because it is the one place that uses both stages: ingest/ reads and chunks, index/ only stores and
searches, and imports flow service -> index -> ingest. It returns an IngestReport (failures included) and
never prints: progress and failures go to an optional `IngestProgress` listener owned by the edge.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from index.build import IndexWriter
from index.vectors import VectorSettings
from index.store import chunk_search_text
from ingest.batch import read_many
from ingest.chunking import CHUNKING, chunk_document
from ingest.documents import Chunk, Document, IngestReport, content_hash
from ingest.errors import ReadError
from ingest.readers import MAX_BYTES, change_key, discover, refuse_oversized
from service.settings import CHECKPOINT_S

__all__ = ["ingest_paths", "add_documents", "IngestProgress", "EMBED_BATCH"]

# Chunks embedded per embedder call (the embedder sorts each call by length). The value the ingest has
# always used, not tuned; changing it changes which texts share an int8 ONNX batch (activations are
# quantized per batch), so vectors would differ in their last digits from earlier indexes.
EMBED_BATCH = 256


class IngestProgress(Protocol):
    """What an edge wants to hear while an ingest runs (the CLI draws bars and prints FAILED lines)."""

    def started(self, files: int) -> None: ...

    def file_done(self) -> None: ...

    def embedded(self, chunks: int) -> None: ...

    def failed(self, location: str, reason: str) -> None: ...

    def finished(self) -> None: ...


class _Silent:
    """The listener of callers that only want the report."""

    def started(self, files: int) -> None:
        """Nothing to show."""

    def file_done(self) -> None:
        """Nothing to show."""

    def embedded(self, chunks: int) -> None:
        """Nothing to show."""

    def failed(self, location: str, reason: str) -> None:
        """Nothing to show (the report keeps it)."""

    def finished(self) -> None:
        """Nothing to show."""


class _Embedding:
    """Documents chunked and waiting to be embedded (their chunks in one call, then the sentences new to the
    index in another), then written to the index together."""

    def __init__(self, writer: IndexWriter, embedder, progress: IngestProgress):
        self.writer, self.embedder, self.progress = writer, embedder, progress
        self.pending: list[tuple[Document, list[Chunk]]] = []
        self.count = 0

    def add(self, docs: Iterable[Document]) -> int:
        """Chunk and queue documents, replacing older versions; returns the number of chunks queued."""
        n = 0
        for doc in docs:
            self.drop([doc.doc_id])
            self.writer.delete_document(doc.doc_id)
            chunks = chunk_document(doc, **CHUNKING)
            self.pending.append((doc, chunks))
            self.count += len(chunks)
            n += len(chunks)
            if self.count >= EMBED_BATCH:
                self.flush()
        self.writer.changed = True
        return n

    def source_of(self, doc_id: str) -> str | None:
        """The source of the document holding doc_id, queued here or stored, or None when the id is free."""
        for doc, _ in self.pending:
            if doc.doc_id == doc_id:
                return doc.source
        return self.writer.source_of(doc_id)

    def drop(self, doc_ids: Iterable[str]) -> None:
        """Forget queued documents that were deleted before being written."""
        gone = set(doc_ids)
        self.pending = [(d, c) for d, c in self.pending if d.doc_id not in gone]
        self.count = sum(len(c) for _, c in self.pending)

    def flush(self) -> None:
        """Embed the queued chunks in one call and write them with their documents."""
        if not self.pending:
            return
        pending, self.pending, self.count = self.pending, [], 0
        texts = [chunk_search_text(d.meta.title, c.heading, c.text) for d, cs in pending for c in cs]
        vecs = self._embed(texts)
        sentences, new_texts = self.writer.plan_sentences([c for _, cs in pending for c in cs])
        ids = self.writer.add(pending, vecs, sentences, self._embed(new_texts))
        self.progress.embedded(len(ids))

    def _embed(self, texts: list[str]) -> np.ndarray:
        """The embedder's vectors for texts (none for no texts)."""
        return self.embedder.embed(texts) if texts else np.zeros((0, self.writer.vecs.d), np.float32)


def _file_key(path: Path) -> str:
    """The files-table key of a path: absolute, so the same file is the same row from any cwd."""
    return str(path.resolve())


def _fail(report: IngestReport, progress: IngestProgress, location: str, reason: str) -> None:
    """Record one failed file (or record in a file) and tell the listener, so no skipped input is silent."""
    report.failed.append((location, reason))
    progress.failed(location, reason)


def _file_digest(path: Path, max_bytes: int) -> str:
    """The change key of a file, refusing an oversized one by its size before reading a byte."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from exc
    refuse_oversized(size, max_bytes)
    try:
        return change_key(path, content_hash(path.read_bytes()))
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from exc


def ingest_paths(paths: Iterable[str | Path], index_dir: str | Path | None, embedder, *, prune: bool = False,
                 checkpoint_s: float = CHECKPOINT_S, vector_index: str | None = None, kind: str | None = None,
                 max_bytes: int = MAX_BYTES, progress: IngestProgress | None = None,
                 sources: Mapping[Path, str] | None = None, vector_settings: VectorSettings | None = None,
                 reader=None) -> IngestReport:
    """Ingest files and folders incrementally (by file content hash) into a new generation.

    Changed files replace their documents; `prune` removes documents of files that are gone or no
    longer under the given paths. Progress is committed every `checkpoint_s` seconds so a killed run
    keeps most of its work. `vector_index` is the kind of a new index; `kind` forces one (rebuilding);
    `vector_settings` sizes a compressed one. A file whose document id another file's document holds is
    refused (a failure and a conflict in the report), never allowed to replace it. `sources` names the source
    shown for given files (uploads are shown as `uploads/<name>`, not as a server path).
    `reader(embedder, paths) -> (results, embedder)` replaces the in-process reading and embedding
    (service/distributed.py: the Ray pipeline); the commit is the same.
    """
    started = time.monotonic()
    progress = progress or _Silent()
    report = IngestReport()
    paths = [Path(p) for p in paths]
    files = discover(paths)
    with IndexWriter(index_dir, embedder, kind=kind, default_kind=vector_index,
                     vector_settings=vector_settings) as writer:
        known = writer.known_files()
        todo: list[tuple[Path, str]] = []
        for path in files:
            try:
                digest = _file_digest(path, max_bytes)
            except ReadError as exc:
                _fail(report, progress, str(path), exc.reason)
                continue
            if known.get(_file_key(path), ("",))[0] == digest:
                report.unchanged += 1
            else:
                todo.append((path, digest))
        _ingest_files(writer, embedder, todo, known, report, progress, checkpoint_s, max_bytes, sources or {},
                      reader)
        if prune:
            report.removed = _prune(writer, known, paths, {_file_key(p) for p in files})
    report.seconds = time.monotonic() - started
    return report


def _ingest_files(writer: IndexWriter, embedder, todo: list[tuple[Path, str]], known: dict, report: IngestReport,
                  progress: IngestProgress, checkpoint_s: float, max_bytes: int,
                  sources: Mapping[Path, str], reader=None) -> None:
    """Read, chunk, embed and add each changed file, checkpointing now and then."""
    digests = dict(todo)
    files = [p for p, _ in todo]
    if reader is not None and files:
        results, embedder = reader(embedder, files)
    else:
        results = read_many(files, max_bytes=max_bytes)
    batch = _Embedding(writer, embedder, progress)
    last_checkpoint = time.monotonic()
    progress.started(len(todo))
    for path, result in results:
        progress.file_done()
        if isinstance(result, Exception):
            _fail(report, progress, str(path), getattr(result, "reason", str(result)))
            continue
        for location, reason in getattr(result, "errors", []):
            _fail(report, progress, location, reason)  # already "path:LINE"
        key = _file_key(path)
        if path in sources:
            result = [replace(d, source=sources[path]) for d in result]
        taken = _taken_id(batch, result, known.get(key, ("", []))[1])
        if taken is not None:
            report.conflicts.append((str(path), *taken))
            _fail(report, progress, str(path), f"document id {taken[0]!r} is already used by {taken[1]}")
            continue
        existed = key in known
        batch.drop(writer.forget_file(key))
        report.chunks += batch.add(result)
        writer.set_file(key, digests[path], [d.doc_id for d in result])
        report.updated += existed
        report.added += not existed
        if time.monotonic() - last_checkpoint >= checkpoint_s:
            batch.flush()
            writer.checkpoint()
            last_checkpoint = time.monotonic()
    batch.flush()
    progress.finished()


def _taken_id(batch: _Embedding, docs: list[Document], own_ids: list[str]) -> tuple[str, str] | None:
    """(doc id, source of the document holding it) for the first of docs whose id another file's document
    holds; None when every id is free or already this file's."""
    own = set(own_ids)
    for doc in docs:
        if doc.doc_id not in own and (holder := batch.source_of(doc.doc_id)) is not None:
            return doc.doc_id, holder
    return None


def _prune(writer: IndexWriter, known: dict, roots: list[Path], seen: set[str]) -> int:
    """Forget files that vanished, or that sit under an ingested root but were not found this time."""
    resolved = [str(r.resolve()) for r in roots]
    removed = 0
    for key in known:
        under = any(key == r or key.startswith(r.rstrip("/") + "/") for r in resolved)
        if key not in seen and (under or not Path(key).exists()):
            writer.forget_file(key)
            removed += 1
    return removed


def add_documents(index_dir: str | Path | None, embedder, docs: list[Document], source_hash: str = "",
                  vector_index: str | None = None, vector_settings: VectorSettings | None = None) -> int:
    """Add or replace documents (already read) in a new generation; returns the number of chunks.

    `vector_index` is the kind of a new index (flat, hnsw or ivfpq)."""
    with IndexWriter(index_dir, embedder, default_kind=vector_index, vector_settings=vector_settings) as writer:
        batch = _Embedding(writer, embedder, _Silent())
        n = batch.add(docs)
        batch.flush()
        if source_hash and docs:
            writer.set_file(docs[0].source, source_hash, [d.doc_id for d in docs])
    return n
