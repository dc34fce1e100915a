"""What the answer path needs from an index: the `Retriever` protocol.

`index.store.Index` implements it; so do the test fakes (tests/answer_helpers.py: MemoryRetriever,
tests/api_support.py: FakeIndex) and eval/abstention.py's in-memory sample, so answer code can call
every method without checking that it exists.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from index.types import DocumentRecord, Filters, Hit, SentenceRecord
from ingest.documents import Chunk

# The members every Retriever has (a test checks the real index and each fake against this list).
RETRIEVER_METHODS = ("search", "document", "documents", "chunks_of", "query_vector", "sentences",
                     "sentence_vectors")


@runtime_checkable
class Retriever(Protocol):
    """Search and look-ups over indexed documents, chunks and their sentences."""

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None) -> list[Hit]:
        """The k best chunks for a query (mode: hybrid, bm25 or dense), best first."""
        ...

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One document's record, or None when it is not indexed."""
        ...

    def documents(self) -> list[DocumentRecord]:
        """Every indexed document's record, in index order."""
        ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in text order (empty when it is not indexed)."""
        ...

    def query_vector(self, text: str) -> np.ndarray:
        """The L2-normalised float32 [dim] vector dense search uses for text."""
        ...

    def sentences(self, chunk_ids: Sequence[str]) -> dict[str, tuple[SentenceRecord, ...]]:
        """Every stored sentence of those chunks, in text order."""
        ...

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 [len(rows), dim] L2-normalised vectors of stored sentences."""
        ...
