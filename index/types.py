"""The dataclasses the index hands to its callers: DocumentRecord, Hit, Filters."""
from __future__ import annotations

from dataclasses import dataclass

from ingest.documents import Chunk, CitedWork, DocMeta


@dataclass(frozen=True)
class DocumentRecord:
    """What the index keeps about a document (everything but its full text)."""

    doc_id: str
    source: str
    meta: DocMeta
    content_hash: str
    chunk_count: int
    questions: tuple[str, ...] = ()  # section headings phrased as questions


@dataclass(frozen=True)
class Filters:
    """Metadata filters on a search; empty means no restriction."""

    types: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None

    def allows(self, meta: DocMeta) -> bool:
        """True when a document with this metadata passes every filter."""
        if self.types and meta.type not in self.types:
            return False
        if self.year_min is not None and (meta.year is None or meta.year < self.year_min):
            return False
        if self.year_max is not None and (meta.year is None or meta.year > self.year_max):
            return False
        return True


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its document and the scores that ranked it."""

    chunk: Chunk
    document: DocumentRecord
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class SentenceRecord:
    """A sentence stored at ingest: `chunk.text[start:end]`, its vector row and the works it cites.

    `Index.sentences(chunk_ids)` returns these per chunk, in text order; `Index.sentence_vectors(rows)`
    returns their L2-normalised embeddings, so answering needs no sentence splitting and no model call
    beyond the question vector that retrieval computed (`Index.query_vector(text)`).
    """

    chunk_id: str
    start: int  # offsets into Chunk.text
    end: int
    row: int  # row of this sentence in the generation's sentence-vector matrix
    cites: tuple[CitedWork, ...] = ()  # resolved entries of the document's reference list
