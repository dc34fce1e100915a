"""The read side of an index: one committed generation opened read-only, searched by BM25, dense or both.

An `Index` is an immutable snapshot; writers (index/build.py) produce a new generation and callers
re-open. Nothing here is pickled: SQLite for text and metadata, FAISS's format for vectors, JSON manifest.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index import bm25, bm25_postings, vectors
from index.errors import IndexCorrupt, IndexMismatch
from index.fusion import FusionSettings, fuse
from index.manifest import (DEFAULT_INDEX_DIR, GenerationPin, POSTINGS, SENTENCES, STORE, VECTORS,
                            live_generation, pin_generation, read_manifest, verify_checksums)
from index.sentence_store import SENTENCE_SCHEMA, cites_from_json, load_matrix
from index.types import DocumentRecord, Filters, Hit, SentenceRecord
from ingest.documents import Chunk, CitedWork, DocMeta

__all__ = ["Index", "chunk_search_text", "SCHEMA", "meta_to_json", "meta_from_json"]

MODES = ("hybrid", "bm25", "dense")
# Opening races a writer that commits twice and collects the generation just read from CURRENT; each retry
# reads CURRENT again, so more than a few in a row would take a writer committing continuously.
PIN_ATTEMPTS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, meta TEXT NOT NULL, content_hash TEXT NOT NULL,
    text TEXT NOT NULL, doc_type TEXT NOT NULL DEFAULT '', year INTEGER, questions TEXT NOT NULL DEFAULT '[]',
    chunk_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_type_year ON documents(doc_type, year);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, doc_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the FAISS id; AUTOINCREMENT so a deleted id is never reused
    chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL, text TEXT NOT NULL,
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, heading TEXT NOT NULL DEFAULT '',
    page INTEGER, content_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
""" + SENTENCE_SCHEMA + bm25.FTS_SCHEMA

_CHUNK_COLS = "id, chunk_id, doc_id, text, start_char, end_char, heading, page, content_hash"
_DOC_COLS = "doc_id, source, meta, content_hash, questions, chunk_count"
# Question vectors kept per Index: search and the answer's sentence scoring share one model call, and a
# repeated question costs none (a few thousand 384-float vectors are a few MB).
QUERY_VECTOR_CACHE = 4096
# Chunks whose sentence records are kept decoded: a warm service reads each retrieved chunk's rows once.
SENTENCE_CACHE = 50_000


def chunk_search_text(title: str, heading: str, text: str) -> str:
    """What is embedded for a chunk: title and heading first, so a chunk that never names its topic is found."""
    return "\n".join(part for part in (title.strip(), heading.strip(), text) if part)


def meta_to_json(meta: DocMeta) -> str:
    """DocMeta as a JSON object."""
    return json.dumps(dataclasses.asdict(meta), ensure_ascii=False)


def meta_from_json(text: str) -> DocMeta:
    """DocMeta from meta_to_json output; unknown keys (from a newer writer) are ignored."""
    raw = json.loads(text)
    known = {f.name for f in dataclasses.fields(DocMeta)}
    values = {k: v for k, v in raw.items() if k in known}
    values["authors"] = tuple(values.get("authors") or ())
    return DocMeta(**values)


def _normal_model_name(name: str) -> str:
    """Model names compare without the hub organisation prefix."""
    return name.removeprefix("sentence-transformers/")


def filter_sql(filters: Filters | None) -> tuple[str | None, tuple]:
    """A SELECT of chunk rowids that pass the filters, with its parameters; (None, ()) for no filter."""
    if filters is None or not (filters.types or filters.year_min is not None or filters.year_max is not None):
        return None, ()
    clauses, params = [], []
    if filters.types:
        clauses.append(f"d.doc_type IN ({', '.join('?' * len(filters.types))})")
        params.extend(filters.types)
    if filters.year_min is not None:
        clauses.append("d.year >= ?")
        params.append(int(filters.year_min))
    if filters.year_max is not None:
        clauses.append("d.year <= ?")
        params.append(int(filters.year_max))
    sql = "SELECT c.id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE " + " AND ".join(clauses)
    return sql, tuple(params)


class Index:
    """A read-only snapshot of one committed generation: chunk store, BM25 and vectors."""

    def __init__(self, root: Path, gen_dir: Path, manifest: dict, conn: sqlite3.Connection, vecs, embedder=None,
                 postings: bm25_postings.Postings | None = None, sentence_vectors: np.ndarray | None = None,
                 pin: GenerationPin | None = None, exact: vectors.ExactVectors | None = None,
                 vector_settings: vectors.VectorSettings | None = None):
        self.root = root
        self._pin = pin  # keeps gen_dir on disk until close(): threads open their connections lazily
        self.gen_dir = gen_dir
        self.manifest = manifest
        self.embedder = embedder
        # Fusion is a query-time choice, not a property of the stored data: every index uses the current
        # settings (a "fusion" entry that older generations wrote into their manifest is ignored).
        self.fusion = FusionSettings()
        self._conns = [conn]  # one read-only connection per thread: SQLite reads then run in parallel
        self._local = threading.local()
        self._local.conn = conn
        self._vectors = vecs
        self._exact = exact  # float16 copies of a compressed index's vectors, for exact re-scoring
        settings = vector_settings or vectors.VectorSettings()
        stored = manifest.get("vector_index", {})
        # explicit settings, else the manifest's, else sized from this index's lists and vectors
        rule_nprobe, rule_refine = vectors.search_defaults(vecs)
        self._nprobe = settings.nprobe or stored.get("nprobe") or rule_nprobe
        self._refine_factor = next(r for r in (settings.refine_factor, stored.get("refine_factor"), rule_refine)
                                   if r is not None)
        self._postings = postings  # None: BM25 queries go to FTS5 (an index written before postings existed)
        self._lock = threading.Lock()  # guards self._conns and the caches below
        self._doc_cache: dict[str, DocumentRecord] = {}
        self._sentence_vectors = sentence_vectors  # float16 [rows, dim], memory-mapped
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._sentence_cache: OrderedDict[str, tuple[SentenceRecord, ...]] = OrderedDict()

    @classmethod
    def open(cls, path: str | Path | None = None, embedder=None, verify: bool = True,
             vector_settings: vectors.VectorSettings | None = None,
             postings_mmap_bytes: int = bm25_postings.MMAP_BYTES) -> "Index":
        """Open the live generation; IndexNotFound / IndexMismatch / IndexCorrupt say what to do.

        `vector_settings.kind` (when set) must be the index's kind; its nprobe overrides the manifest's.
        BM25 postings files of at least `postings_mmap_bytes` are memory-mapped rather than read.
        """
        root = Path(path) if path is not None else DEFAULT_INDEX_DIR
        gen, pin = _pinned_live_generation(root)
        try:
            return cls._open_pinned(root, gen, pin, embedder, verify, vector_settings, postings_mmap_bytes)
        except BaseException:
            pin.release()
            raise

    @classmethod
    def _open_pinned(cls, root: Path, gen: Path, pin: GenerationPin, embedder, verify: bool,
                     vector_settings: vectors.VectorSettings | None = None,
                     postings_mmap_bytes: int = bm25_postings.MMAP_BYTES) -> "Index":
        """Open a generation already pinned against garbage collection."""
        manifest = read_manifest(gen)
        if embedder is not None:
            check_model(manifest, embedder, root)
        if vector_settings is not None:
            check_vector_kind(manifest, vector_settings, root)
        if verify:
            verify_checksums(gen, manifest)
        try:
            conn = open_store(gen)
            chunk_count = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            vecs = vectors.load(gen / VECTORS)
            exact = vectors.ExactVectors.load(gen) if vectors.is_compressed(vecs) else None
            postings = bm25_postings.Postings.load(gen / POSTINGS, postings_mmap_bytes) if POSTINGS in manifest.get("checksums", {}) else None
            sentence_vectors = load_matrix(gen / SENTENCES)
            sentence_rows = conn.execute("SELECT COALESCE(MAX(row) + 1, 0) FROM sentences").fetchone()[0]
        except (sqlite3.DatabaseError, RuntimeError, OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"{gen} cannot be read ({exc}): re-run `medcite ingest`") from exc
        if vecs.ntotal != chunk_count or chunk_count != manifest.get("counts", {}).get("chunks"):
            raise IndexCorrupt(f"{gen} has {vecs.ntotal} vectors for {chunk_count} chunks "
                               f"(manifest: {manifest.get('counts')}): re-run `medcite ingest`")
        check_vector_structure(manifest, vecs, exact, gen)
        if vecs.d != manifest.get("dim"):
            raise IndexCorrupt(f"{gen} vectors have dimension {vecs.d}, manifest says {manifest.get('dim')}")
        if postings is not None and len(postings.rows) != chunk_count:
            raise IndexCorrupt(f"{gen} has BM25 postings for {len(postings.rows)} rows and {chunk_count} chunks: "
                               "re-run `medcite ingest`")
        if sentence_vectors.shape != (manifest.get("counts", {}).get("sentence_vectors"), vecs.d) \
                or sentence_rows > len(sentence_vectors):
            raise IndexCorrupt(f"{gen} has sentence vectors of shape {sentence_vectors.shape} for {sentence_rows} "
                               f"rows (manifest: {manifest.get('counts')}): re-run `medcite ingest`")
        return cls(root, gen, manifest, conn, vecs, embedder, postings, sentence_vectors, pin, exact, vector_settings)

    def close(self) -> None:
        """Release the sqlite connections, the memory-mapped sentence vectors and the pin: the generation's
        files may then be deleted and their space freed."""
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
            self._sentence_vectors = None  # unmapped once no caller holds a slice of it
            if self._pin is not None:
                self._pin.release()

    def __len__(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    @property
    def vector_count(self) -> int:
        """Vectors in the FAISS index (equal to len(self) in any index that opened)."""
        return int(self._vectors.ntotal)

    def _connection(self) -> sqlite3.Connection:
        """This thread's read-only connection to the generation's store (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_store(self.gen_dir)
            with self._lock:
                self._conns.append(conn)
            self._local.conn = conn
        return conn

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a read query on this thread's connection."""
        return self._connection().execute(sql, params).fetchall()

    # --- search -------------------------------------------------------------------------------------

    def rank(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None,
             query_vector: np.ndarray | None = None) -> list[tuple[int, float, float | None, float | None]]:
        """(rowid, score, dense score, bm25 score) of the best k chunks, best first."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        allowed_sql, params = filter_sql(filters)
        n = max(k, self.fusion.candidates) if mode == "hybrid" else k
        dense = self._dense(query, n, allowed_sql, params, query_vector) if mode != "bm25" else []
        lexical = self._bm25(query, n, allowed_sql, params) if mode != "dense" else []
        d, b = dict(dense), dict(lexical)
        ranking = dense if mode == "dense" else lexical if mode == "bm25" else fuse(dense, lexical, self.fusion)
        return [(cid, s, d.get(cid), b.get(cid)) for cid, s in ranking[:k]]

    def query_vector(self, text: str) -> np.ndarray:
        """The L2-normalised float32 [dim] vector dense search uses for text (cached: one model call per text)."""
        with self._lock:
            vec = self._query_vectors.get(text)
            if vec is not None:
                self._query_vectors.move_to_end(text)
                return vec
        if self.embedder is None:
            raise ValueError("dense search needs an embedder: Index.open(path, embedder=...)")
        vec = np.ascontiguousarray(self.embedder.embed([text])[0], dtype=np.float32)
        vec.setflags(write=False)  # shared by every caller of the cache
        with self._lock:
            self._query_vectors[text] = vec
            if len(self._query_vectors) > QUERY_VECTOR_CACHE:
                self._query_vectors.popitem(last=False)
        return vec

    def _dense(self, query, n, allowed_sql, params, query_vector) -> list[tuple[int, float]]:
        """Nearest chunks by cosine, within the filter."""
        if query_vector is None:
            query_vector = self.query_vector(query)
        allowed = None
        if allowed_sql is not None:
            allowed = np.array([r[0] for r in self._rows(allowed_sql, params)], dtype=np.int64)
        return vectors.search(self._vectors, query_vector, n, allowed, nprobe=self._nprobe, exact=self._exact,
                              refine_factor=self._refine_factor)

    def _bm25(self, query, n, allowed_sql, params) -> list[tuple[int, float]]:
        """Best chunks by BM25, within the filter: from the postings when the query is plain terms, else FTS5."""
        phrases = bm25_postings.query_phrases(query) if self._postings is not None else None
        if phrases is None:
            return bm25.bm25_search(self._connection(), query, n, allowed_sql, params)
        allowed = None
        if allowed_sql is not None:
            allowed = np.array([r[0] for r in self._rows(allowed_sql, params)], dtype=np.int64)
        return self._postings.search(phrases, n, allowed)

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None) -> list[Hit]:
        """The k best chunks for a query."""
        return self._hits(self.rank(query, k, mode, filters))

    def search_documents(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None,
                         query_vector: np.ndarray | None = None) -> list[Hit]:
        """The k best documents, each represented by its best chunk (document score = best chunk's)."""
        n = max(k * 5, self.fusion.candidates)
        while True:
            ranked = self.rank(query, n, mode, filters, query_vector)
            best = self._collapse(ranked, k)
            if len(best) >= k or len(ranked) < n or n >= len(self):
                return self._hits(best)
            n *= 4

    def chunk_documents(self, rowids: Sequence[int]) -> dict[int, str]:
        """The document id of each chunk rowid (as `rank` returns them)."""
        if not rowids:
            return {}
        return dict(self._rows(f"SELECT id, doc_id FROM chunks WHERE id IN ({', '.join('?' * len(rowids))})",
                               tuple(rowids)))

    def _collapse(self, ranked: list[tuple], k: int) -> list[tuple]:
        """First (best) ranked chunk of each document, up to k documents."""
        if not ranked:
            return []
        docs = self.chunk_documents([r[0] for r in ranked])
        seen: set[str] = set()
        out = []
        for row in ranked:
            doc = docs.get(row[0])
            if doc is not None and doc not in seen:
                seen.add(doc)
                out.append(row)
                if len(out) == k:
                    break
        return out

    def _hits(self, ranked: list[tuple]) -> list[Hit]:
        """Hits for ranked (rowid, score, dense, bm25) rows, in the same order."""
        if not ranked:
            return []
        rows = self._rows(f"SELECT {_CHUNK_COLS} FROM chunks WHERE id IN ({', '.join('?' * len(ranked))})",
                          tuple(r[0] for r in ranked))
        chunks = {r[0]: _chunk(r) for r in rows}
        hits = []
        for cid, score, dense, lexical in ranked:
            chunk = chunks.get(cid)
            if chunk is None:
                raise IndexCorrupt(f"vector id {cid} has no chunk in {self.gen_dir}: re-run `medcite ingest`")
            hits.append(Hit(chunk, self.document(chunk.doc_id), float(score), dense, lexical))
        return hits

    # --- sentences ----------------------------------------------------------------------------------

    def sentences(self, chunk_ids: Sequence[str]) -> dict[str, tuple[SentenceRecord, ...]]:
        """Every stored sentence of those chunks, in text order (an unknown chunk id maps to ())."""
        out: dict[str, tuple[SentenceRecord, ...]] = {}
        with self._lock:
            for cid in chunk_ids:
                if cid in self._sentence_cache:
                    out[cid] = self._sentence_cache[cid]
        missing = [cid for cid in dict.fromkeys(chunk_ids) if cid not in out]
        if missing:
            found: dict[str, list[SentenceRecord]] = {cid: [] for cid in missing}
            rows = self._rows(
                "SELECT c.chunk_id, s.start_char, s.end_char, s.row, s.cites FROM chunks c "
                f"JOIN sentences s ON s.chunk_rowid = c.id WHERE c.chunk_id IN ({', '.join('?' * len(missing))}) "
                "ORDER BY c.chunk_id, s.ordinal", tuple(missing))
            for cid, start, end, row, cites in rows:
                found[cid].append(SentenceRecord(cid, start, end, row, cites_from_json(cites)))
            with self._lock:
                for cid, records in found.items():
                    out[cid] = self._sentence_cache[cid] = tuple(records)
                while len(self._sentence_cache) > SENTENCE_CACHE:
                    self._sentence_cache.popitem(last=False)
        return {cid: out[cid] for cid in chunk_ids}

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 [len(rows), dim] L2-normalised vectors of those sentence rows (SentenceRecord.row)."""
        rows = np.asarray(rows, dtype=np.int64)
        vecs = np.asarray(self._sentence_vectors[rows], dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.clip(norms, 1e-12, None)  # undo float16 rounding of the norm

    def chunk_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many chunks hold each word (as FTS5 tokenizes it), from the BM25 postings; with the chunk count
        this gives the word's idf. Words FTS5 splits in two, or an index without postings, are left out."""
        if self._postings is None:
            return {}
        out = {}
        for word in words:
            tokens = bm25_postings.fts_tokens(word)
            if len(tokens) == 1:
                out[word] = self._postings.frequency(tokens[0])
        return out

    # --- lookups ------------------------------------------------------------------------------------

    def cited_works(self, doc_id: str) -> tuple[CitedWork, ...]:
        """A document's own reference list, entries verbatim in printed order (marker: the printed number)."""
        return tuple(CitedWork(number, text, doi, pmid) for number, text, doi, pmid in self._rows(
            "SELECT number, text, doi, pmid FROM document_references WHERE doc_id = ? ORDER BY ordinal", (doc_id,)))

    def documents(self) -> list[DocumentRecord]:
        """Every document, ordered by doc_id."""
        return [self._record(r) for r in self._rows(f"SELECT {_DOC_COLS} FROM documents ORDER BY doc_id")]

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One document's record, or None."""
        if doc_id not in self._doc_cache:
            rows = self._rows(f"SELECT {_DOC_COLS} FROM documents WHERE doc_id = ?", (doc_id,))
            if not rows:
                return None
            self._doc_cache[doc_id] = self._record(rows[0])
        return self._doc_cache[doc_id]

    def source_files(self) -> list[str]:
        """The absolute paths of the files ingested into this index, sorted."""
        return [r[0] for r in self._rows("SELECT path FROM files ORDER BY path")]

    def file_digests(self) -> dict[str, str]:
        """Absolute path -> change key (content hash and reader revision) of every ingested file."""
        return dict(self._rows("SELECT path, content_hash FROM files"))

    def document_text(self, doc_id: str) -> str | None:
        """The full extracted text of a document, or None."""
        rows = self._rows("SELECT text FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in text order."""
        return [_chunk(r) for r in self._rows(
            f"SELECT {_CHUNK_COLS} FROM chunks WHERE doc_id = ? ORDER BY start_char, id", (doc_id,))]

    def chunk(self, chunk_id: str) -> Chunk | None:
        """One chunk by its chunk id, or None."""
        rows = self._rows(f"SELECT {_CHUNK_COLS} FROM chunks WHERE chunk_id = ?", (chunk_id,))
        return _chunk(rows[0]) if rows else None

    @staticmethod
    def _record(row: tuple) -> DocumentRecord:
        """DocumentRecord from a documents row."""
        doc_id, source, meta, chash, questions, count = row
        return DocumentRecord(doc_id, source, meta_from_json(meta), chash, int(count), tuple(json.loads(questions)))


def _pinned_live_generation(root: Path) -> tuple[Path, GenerationPin]:
    """The live generation and its pin, retrying when a writer collects it between reading CURRENT and pinning."""
    for _ in range(PIN_ATTEMPTS):
        gen = live_generation(root)
        pin = pin_generation(gen)
        if pin is not None:
            return gen, pin
    raise IndexCorrupt(f"{root} changed {PIN_ATTEMPTS} times while being opened: try again")


def open_store(gen: Path) -> sqlite3.Connection:
    """A read-only connection to a committed generation's store (immutable: it never changes)."""
    return sqlite3.connect(f"file:{gen / STORE}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def _chunk(row: tuple) -> Chunk:
    """Chunk from a chunks row (rowid first)."""
    _, chunk_id, doc_id, text, start, end, heading, page, chash = row
    return Chunk(chunk_id, doc_id, text, start, end, heading, page, chash)


def check_vector_kind(manifest: dict, settings: vectors.VectorSettings, root: Path) -> None:
    """IndexMismatch when a vector index kind was asked for and the index was built with another."""
    built = manifest.get("vector_index", {}).get("kind", "flat")
    if settings.kind is not None and settings.kind.lower() != built:
        raise IndexMismatch(f"index at {root} was built with vector index {built} but MEDCITE_VECTOR_INDEX is "
                            f"{settings.kind}: set MEDCITE_VECTOR_INDEX={built}, or re-ingest into a new index "
                            f"with `medcite ingest --index DIR`")


def check_vector_structure(manifest: dict, vecs, exact, gen: Path) -> None:
    """IndexMismatch when vectors.faiss is not the structure the manifest records (factory string)."""
    recorded = manifest.get("vector_index", {}).get("factory")
    actual = vectors.describe(vecs)
    if recorded is not None and recorded != actual:
        raise IndexMismatch(f"{gen.name} vectors are {actual} but its manifest records {recorded}: "
                            "re-run `medcite ingest` into a new index")
    if exact is not None and len(exact.ids) != vecs.ntotal:
        raise IndexCorrupt(f"{gen.name} has {len(exact.ids)} exact vectors for {vecs.ntotal} compressed ones: "
                           "re-run `medcite ingest`")


def check_model(manifest: dict, embedder, root: Path) -> None:
    """IndexMismatch naming both fixes when the index was built with another model or dimension."""
    built, dim = manifest.get("model", "?"), manifest.get("dim")
    if _normal_model_name(built) != _normal_model_name(embedder.name) or dim != embedder.dim:
        raise IndexMismatch(
            f"index at {root} was built with model {built} (dim {dim}) but MEDCITE_MODEL is {embedder.name} "
            f"(dim {embedder.dim}): set MEDCITE_MODEL={built}, or delete {root} and rebuild it with "
            f"`medcite ingest --index {root}`")
