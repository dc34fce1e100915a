"""The write side of an index: every change goes into a new generation that is switched to atomically.

A writer takes the index lock, copies the live generation's files into a fresh gen-NNNNNN directory,
applies deletions and additions there, fsyncs, writes the manifest (with checksums) last and flips
CURRENT. A crash at any moment leaves the old generation live; the half-written directory is
collected by the next writer.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np

from index import vectors
from index.bm25 import COLUMN_WEIGHTS, TOKENIZE
from index.bm25_postings import Postings, build_postings
from index.errors import DiskFull, IndexNotFound
from index.manifest import (DEFAULT_INDEX_DIR, LOCK, POSTINGS, SENTENCES, STORE, VECTORS, collect_garbage,
                            current_generation, fsync_path, generation_name, generation_numbers, read_manifest,
                            switch_current, verify_checksums, write_manifest)
from index.sentence_store import SENTENCE_DTYPE, SentenceWriter, cites_to_json, load_matrix
from index.store import SCHEMA, check_model, meta_to_json
from ingest.chunking import CHUNKING
from ingest.citations import resolve_citations
from ingest.documents import Chunk, Document
from ingest.references import ReferenceList, reference_list

__all__ = ["IndexWriter", "delete_document", "is_disk_full"]

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class IndexWriter:
    """One writer at a time (flock) builds the next generation from the live one.

    It stores what it is given (documents, their chunks and the chunks' vectors); reading, chunking and
    embedding are the ingest driver's (service/pipeline.py). `embedder` only names the model and its
    dimension for the manifest and the model check. `kind` forces a vector index kind (rebuilding the
    vectors when the live one differs); `default_kind` is the kind of a new index (else "flat").
    """

    def __init__(self, index_dir: str | Path | None, embedder=None, kind: str | None = None,
                 default_kind: str | None = None, vector_settings: vectors.VectorSettings | None = None):
        self.root = Path(index_dir) if index_dir is not None else DEFAULT_INDEX_DIR
        self.embedder = embedder
        self.vector_settings = vector_settings or vectors.VectorSettings()
        self.kind_arg = kind
        self.default_kind = kind or default_kind or self.vector_settings.kind
        self._lock_fd: int | None = None
        self._planned_texts = 0  # sentence texts the last plan_sentences asked to embed
        self.changed = False

    # --- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> "IndexWriter":
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            collect_garbage(self.root)  # leftovers of killed writers
            self._begin()
        except BaseException as exc:
            os.close(self._lock_fd)
            raise_disk_full(exc)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.changed:
                try:
                    self.commit()
                except BaseException as failure:
                    self._abort()  # a failed commit leaves no half-written generation behind
                    raise_disk_full(failure)
                    raise
            else:
                self._abort()
                if exc is not None:
                    raise_disk_full(exc)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _begin(self) -> None:
        """Open a new generation directory holding a copy of the live one (or an empty index)."""
        live = current_generation(self.root)
        number = max(generation_numbers(self.root), default=0) + 1
        self.gen = self.root / generation_name(number)
        self.base = read_manifest(live) if live else {}
        self.live = live
        if live:
            verify_checksums(live, self.base)  # never build on top of a corrupted generation
            if self.embedder is not None:
                check_model(self.base, self.embedder, self.root)
        if not live and self.embedder is None:
            raise IndexNotFound(f"no index at {self.root}: run `medcite ingest` first")
        self.gen.mkdir()
        self._committed = False
        try:
            self._open_generation()
        except BaseException:
            shutil.rmtree(self.gen, ignore_errors=True)  # e.g. the disk filled while copying the store
            raise

    def _open_generation(self) -> None:
        """Fill the new generation directory from the live one and open its store for writing."""
        live = self.live
        if live:
            shutil.copyfile(live / STORE, self.gen / STORE)
            self.vecs = vectors.load(live / VECTORS)
        else:
            self.vecs = vectors.new_index(self.embedder.dim, vectors.vector_index_kind(self.default_kind))
        self.kind = self.base.get("vector_index", {}).get("kind") or vectors.vector_index_kind(self.default_kind)
        if self.kind_arg and vectors.vector_index_kind(self.kind_arg) != self.kind:
            if vectors.is_compressed(self.vecs):
                raise ValueError(f"the index at {self.root.name} holds compressed vectors, which cannot be turned "
                                 f"back into {self.kind_arg}: ingest into a new index directory")
            self.kind = vectors.vector_index_kind(self.kind_arg)
            self._rebuild_vectors = True
        else:
            self._rebuild_vectors = False
        self._begin_exact(live)
        self._begin_sentences(live)
        self.conn = sqlite3.connect(self.gen / STORE)
        # The file is private to this generation until commit; a crash discards it whole, so no journal.
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.executescript(SCHEMA)
        self._removed: set[int] = set()
        self.changed = self._rebuild_vectors

    def _begin_sentences(self, live: Path | None) -> None:
        """Sentence vectors start from the live generation's; a checkpoint keeps the text -> row map."""
        dim = self.embedder.dim if self.embedder is not None else int(self.base["dim"])
        base = load_matrix(live / SENTENCES) if live else None
        previous = getattr(self, "sents", None)
        self.sents = SentenceWriter(dim, base)
        if previous is not None and previous.rows == self.sents.rows:
            self.sents.row_of_text = previous.row_of_text  # rows committed by this session, still valid

    def _begin_exact(self, live: Path | None) -> None:
        """A compressed index keeps float16 copies of its vectors: the live ones mapped, new ones in memory."""
        self.exact = vectors.ExactVectors.load(live) if live and vectors.is_compressed(self.vecs) else None
        self._exact_new: list[tuple[np.ndarray, np.ndarray]] = []
        self._exact_removed: set[int] = set()

    def _abort(self) -> None:
        """Drop the uncommitted generation (never one that is already live)."""
        self.conn.close()
        if not self._committed:
            shutil.rmtree(self.gen, ignore_errors=True)

    def commit(self) -> dict:
        """fsync, write the manifest last and switch CURRENT to the new generation."""
        self.conn.commit()
        counts = self._counts()
        self._write_postings()
        if self._rebuild_vectors or (self.kind == "hnsw" and self._removed):
            self._rebuild()
        self._write_exact()
        if self.vecs.ntotal != counts["chunks"]:
            raise RuntimeError(f"internal error: {self.vecs.ntotal} vectors for {counts['chunks']} chunks")
        vectors.save(self.vecs, self.gen / VECTORS)
        counts["sentence_vectors"] = self.sents.save(self.conn, self.gen / SENTENCES)
        self.conn.commit()
        self.conn.close()
        fsync_path(self.gen / STORE)
        fsync_path(self.gen / POSTINGS)
        fsync_path(self.gen / SENTENCES)
        for name in (vectors.EXACT_VECTORS, vectors.VECTOR_IDS):
            if (self.gen / name).is_file():
                fsync_path(self.gen / name)
        manifest = write_manifest(self.gen, self._manifest(counts))
        fsync_path(self.gen)
        switch_current(self.root, self.gen)
        self._committed = True
        collect_garbage(self.root)
        self.changed = False
        return manifest

    def _write_postings(self) -> None:
        """BM25 postings of the new generation, updated from the live generation's (see index/bm25_postings.py)."""
        base = None
        if self.live is not None and POSTINGS in self.base.get("checksums", {}):
            base = Postings.load(self.live / POSTINGS)
        build_postings(self.conn, base).save(self.gen / POSTINGS)

    def checkpoint(self) -> None:
        """Commit what is done so far and continue in a fresh generation (long ingests keep progress)."""
        if self.changed:
            self.commit()
            self._begin()

    def _manifest(self, counts: dict) -> dict:
        """Everything needed to query this generation correctly."""
        dim = self.embedder.dim if self.embedder is not None else self.base["dim"]
        model = self.embedder.name if self.embedder is not None else self.base["model"]
        params = {"M": vectors.HNSW_M, "efConstruction": vectors.HNSW_EF_CONSTRUCTION,
                  "efSearch": vectors.HNSW_EF_SEARCH} if self.kind == "hnsw" else {}
        params["factory"] = vectors.describe(self.vecs)
        if self.kind == "ivfpq":
            params.update(self._compressed_manifest())
        max_tokens = getattr(self.embedder, "max_tokens", None) or (self.base or {}).get("max_tokens")
        return {"model": model, "dim": int(dim), "max_tokens": max_tokens, "generation": self.gen.name,
                "created_at": time.time(),
                "embedder": type(self.embedder).__name__ if self.embedder is not None else self.base.get("embedder"),
                "chunking": dict(CHUNKING), "counts": counts,
                "vector_index": {"kind": self.kind, "metric": "inner_product", **params},
                "bm25": {"engine": "sqlite-fts5", "postings": POSTINGS, "column_weights": list(COLUMN_WEIGHTS),
                         "columns": ["title", "heading", "text"], "tokenizer": TOKENIZE},
                "search_text": "title\\nheading\\ntext",
                "sentences": {"vectors": SENTENCES, "dtype": np.dtype(SENTENCE_DTYPE).name, "segmenter": "blingfire",
                              "spans": "store.sqlite table sentences, offsets into chunks.text",
                              "not_stored": "sections under a reference-list heading"}}

    def _compressed_manifest(self) -> dict:
        """What an ivfpq generation needs to be searched and re-opened: threshold, nprobe, training."""
        base = self.base.get("vector_index", {}) if self.base else {}
        out = {"min_vectors": base.get("min_vectors", self.vector_settings.min_vectors),
               "nprobe": base.get("nprobe", self.vector_settings.nprobe or vectors.NPROBE),
               "refine_factor": base.get("refine_factor", vectors.REFINE_FACTOR if self.vector_settings.refine_factor
                                         is None else self.vector_settings.refine_factor),
               "train_factory": self._train_factory()}
        if vectors.is_compressed(self.vecs):
            out["training"] = getattr(self, "_training", None) or base.get("training")
            out["exact_vectors"] = {"file": vectors.EXACT_VECTORS, "ids": vectors.VECTOR_IDS,
                                    "dtype": np.dtype(vectors.EXACT_DTYPE).name}
        return out

    def _train_factory(self) -> str | None:
        """The factory asked for when this index was first written (None: sized by compressed_factory)."""
        return self.vector_settings.factory or (self.base or {}).get("vector_index", {}).get("train_factory")

    def _write_exact(self) -> None:
        """Compress a flat ivfpq index that reached its threshold; write a compressed one's exact vectors."""
        if self.kind != "ivfpq":
            return
        if not vectors.is_compressed(self.vecs):
            threshold = self.base.get("vector_index", {}).get("min_vectors", self.vector_settings.min_vectors)
            if self.vecs.ntotal < max(1, threshold):
                return
            self._compress()
        parts = []
        if self.exact is not None:
            keep = ~np.isin(self.exact.ids, np.fromiter(self._exact_removed, np.int64, len(self._exact_removed)))
            parts.append((np.asarray(self.exact.ids)[keep], np.asarray(self.exact.matrix)[keep]))
        parts.extend(self._exact_new)
        vectors.save_exact(self.gen, parts, self.vecs.d)
        self._begin_exact(self.gen)

    def _compress(self) -> None:
        """Train IVF-PQ on a seeded sample of the flat index's vectors and move every vector into it."""
        n, dim = self.vecs.ntotal, self.vecs.d
        ids = faiss_ids(self.vecs)
        flat = self.vecs.index.reconstruct_n(0, n)
        order = np.argsort(ids)
        ids, flat = ids[order], flat[order]
        factory = self._train_factory() or vectors.compressed_factory(n, dim)
        rows = vectors.training_rows(n, vectors.training_size(factory, n))
        self.vecs = vectors.train_compressed(dim, factory, flat[rows])
        vectors.add(self.vecs, ids, flat)
        self._training = {"factory": factory, "vectors": int(n), "sample": int(len(rows)),
                          "sample_seed": vectors.TRAIN_SEED, "sample_of": "uniform over the vectors sorted by id"}
        self.exact, self._exact_removed = None, set()
        self._exact_new = [(ids, flat)]

    def _counts(self) -> dict:
        """Documents, chunks and files in the store."""
        one = lambda sql: int(self.conn.execute(sql).fetchone()[0])  # noqa: E731
        return {"documents": one("SELECT COUNT(*) FROM documents"), "chunks": one("SELECT COUNT(*) FROM chunks"),
                "sentences": one("SELECT COUNT(*) FROM sentences"),
                "files": one("SELECT COUNT(*) FROM files"), "vectors": int(self.vecs.ntotal - len(self._removed))}

    def _rebuild(self) -> None:
        """Rebuild the vector index from its own stored vectors minus deletions (HNSW cannot remove)."""
        ntotal = self.vecs.ntotal
        ids = faiss_ids(self.vecs)
        vecs = self.vecs.index.reconstruct_n(0, ntotal) if ntotal else np.zeros((0, self.vecs.d), np.float32)
        keep = np.array([i not in self._removed for i in ids], dtype=bool)
        self.vecs = vectors.build_index(self.vecs.d, self.kind, ids[keep], vecs[keep])
        self._removed.clear()

    # --- changes ------------------------------------------------------------------------------------

    def known_files(self) -> dict[str, tuple[str, list[str]]]:
        """path -> (content hash, doc ids) of every file ingested so far."""
        return {p: (h, json.loads(d)) for p, h, d in self.conn.execute("SELECT path, content_hash, doc_ids FROM files")}

    def source_of(self, doc_id: str) -> str | None:
        """The source of the stored document holding doc_id, or None when the id is free."""
        row = self.conn.execute("SELECT source FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document, its chunks, their BM25 rows and vectors; False when it was absent."""
        ids = [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        found = self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0
        self.conn.execute("DELETE FROM document_references WHERE doc_id = ?", (doc_id,))
        if ids:
            marks = ", ".join("?" * len(ids))
            self.conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", ids)
            self.conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
            self.conn.execute(f"DELETE FROM sentences WHERE chunk_rowid IN ({marks})", ids)
            if self.kind == "hnsw":
                self._removed.update(ids)
            else:
                vectors.remove(self.vecs, ids)
                self._forget_exact(ids)
        changed = found or bool(ids)
        self.changed |= changed
        return changed

    def _forget_exact(self, ids: list[int]) -> None:
        """Drop deleted ids from the exact vectors (live ones at commit, new ones now)."""
        if not vectors.is_compressed(self.vecs):
            return
        gone = np.asarray(ids, np.int64)
        self._exact_removed.update(ids)
        self._exact_new = [(i[keep], v[keep]) for i, v in self._exact_new if (keep := ~np.isin(i, gone)).any()]

    def set_file(self, path: str, file_hash: str, doc_ids: list[str]) -> None:
        """Remember which documents a file produced, for the next incremental ingest."""
        self.conn.execute("INSERT OR REPLACE INTO files(path, content_hash, doc_ids) VALUES (?, ?, ?)",
                          (path, file_hash, json.dumps(doc_ids)))
        self.changed = True

    def forget_file(self, path: str) -> list[str]:
        """Delete a file's record and its documents; returns their ids."""
        row = self.conn.execute("SELECT doc_ids FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        doc_ids = json.loads(row[0])
        for doc_id in doc_ids:
            self.delete_document(doc_id)
        self.conn.execute("DELETE FROM files WHERE path = ?", (path,))
        self.changed = True
        return doc_ids

    def plan_sentences(self, chunks: list[Chunk]) -> tuple[list[list[tuple[int, int, int]]], list[str]]:
        """Per chunk its (start, end, row) sentences, and the sentence texts new to this index, to embed."""
        sentences, new_texts = self.sents.plan(chunks)
        self._planned_texts = len(new_texts)
        return sentences, new_texts

    def add(self, batch: list[tuple[Document, list[Chunk]]], vecs: np.ndarray,
            sentences: list[list[tuple[int, int, int]]], sentence_vecs: np.ndarray) -> list[int]:
        """Write documents, their chunks (BM25 rows included), the chunks' vectors and their sentences.

        Row i of `vecs` is the i-th chunk of the batch; `sentences` and `sentence_vecs` are what
        `plan_sentences` returned for the batch's chunks and the embedder made of its new texts. Older
        versions of the documents must have been deleted first (`delete_document`). Returns the chunks' rowids."""
        self._check_shape(vecs, sum(len(chunks) for _, chunks in batch))
        self._check_shape(sentence_vecs, self._planned_texts)
        self._planned_texts = 0
        self.sents.add_vectors(sentence_vecs)
        ids: list[int] = []
        rows: list[tuple] = []
        spans = iter(sentences)
        for doc, chunks in batch:
            refs = reference_list(doc)
            chunk_ids = self._insert(doc, chunks, refs)
            ids.extend(chunk_ids)
            # zip stops at the document's last chunk before taking the next document's spans
            for rowid, chunk, chunk_spans in zip(chunk_ids, chunks, spans):
                rows.extend((rowid, n, s, e, row, cites_to_json(resolve_citations(chunk.text[s:e], refs)))
                            for n, (s, e, row) in enumerate(chunk_spans))
        vectors.add(self.vecs, ids, vecs)
        if self.exact is not None or vectors.is_compressed(self.vecs):
            self._exact_new.append((np.asarray(ids, np.int64), np.asarray(vecs, vectors.EXACT_DTYPE)))
        self.conn.executemany(
            "INSERT INTO sentences(chunk_rowid, ordinal, start_char, end_char, row, cites) VALUES (?, ?, ?, ?, ?, ?)",
            rows)
        self.changed = True
        return ids

    def _check_shape(self, vecs: np.ndarray, count: int) -> None:
        """Refuse vectors that are not one row of this index's dimension per text."""
        if vecs.shape != (count, self.vecs.d):
            raise ValueError(f"embedder returned {vecs.shape}, expected ({count}, {self.vecs.d})")

    def _insert(self, doc: Document, chunks: list[Chunk], refs: ReferenceList) -> list[int]:
        """Write one document, its reference list and its chunks; returns the chunks' new rowids (vector ids)."""
        questions = list(dict.fromkeys(s.heading.strip() for s in doc.sections if s.heading.strip().endswith("?")))
        self.conn.execute(
            "INSERT OR REPLACE INTO documents(doc_id, source, meta, content_hash, text, doc_type, year, questions, "
            "chunk_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.doc_id, doc.source, meta_to_json(doc.meta), doc.content_hash, doc.text, doc.meta.type or "",
             doc.meta.year, json.dumps(questions), len(chunks)))
        self.conn.executemany(
            "INSERT INTO document_references(doc_id, ordinal, number, text, doi, pmid) VALUES (?, ?, ?, ?, ?, ?)",
            [(doc.doc_id, n, "" if e.number is None else str(e.number), e.text, e.doi, e.pmid)
             for n, e in enumerate(refs.entries)])
        ids = []
        for c in chunks:
            cur = self.conn.execute(
                "INSERT INTO chunks(chunk_id, doc_id, text, start_char, end_char, heading, page, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (c.chunk_id, c.doc_id, c.text, c.start, c.end, c.heading, c.page, c.content_hash))
            ids.append(cur.lastrowid)
            self.conn.execute("INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                              (cur.lastrowid, doc.meta.title, c.heading, c.text))
        return ids


def is_disk_full(exc: BaseException) -> bool:
    """Whether an exception from a write means the disk (or quota) is full, whichever library raised it."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    # FAISS and numpy report a failed write as a RuntimeError/OSError carrying strerror's text.
    return any(os.strerror(code) in str(exc) for code in _DISK_FULL_ERRNOS)


def raise_disk_full(exc: BaseException) -> None:
    """Raise DiskFull (from exc) when exc is a disk-full error; otherwise do nothing."""
    if is_disk_full(exc) and not isinstance(exc, DiskFull):
        raise DiskFull("no space left on the index's disk: the change was not made, free some space and retry") \
            from exc


def faiss_ids(index) -> np.ndarray:
    """The int64 ids of an IndexIDMap2, in storage order."""
    import faiss

    return faiss.vector_to_array(index.id_map).astype(np.int64)


def delete_document(index_dir: str | Path | None, doc_id: str) -> bool:
    """Delete one document in a new generation; False (and no new generation) when it is absent."""
    try:
        writer_cm = IndexWriter(index_dir)
        writer = writer_cm.__enter__()
    except IndexNotFound:
        return False
    with _exiting(writer_cm):
        found = writer.delete_document(doc_id)
        if found:
            for path, (_, ids) in writer.known_files().items():
                if doc_id in ids:
                    rest = [i for i in ids if i != doc_id]
                    if rest:
                        writer.conn.execute("UPDATE files SET doc_ids = ? WHERE path = ?", (json.dumps(rest), path))
                    else:
                        writer.conn.execute("DELETE FROM files WHERE path = ?", (path,))
    return found


class _exiting:
    """Run an already-entered writer's __exit__ (so a missing index can be caught before the with)."""

    def __init__(self, writer: IndexWriter):
        self.writer = writer

    def __enter__(self) -> IndexWriter:
        return self.writer

    def __exit__(self, *exc) -> None:
        self.writer.__exit__(*exc)
