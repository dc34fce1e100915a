"""The dataclasses the index hands to its callers: DocumentRecord, Hit, Filters."""
from __future__ import annotations

from dataclasses import dataclass

from ingest.documents import Chunk, DocMeta


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
