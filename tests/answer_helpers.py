"""An in-memory retriever for answer tests: literal Documents, one chunk per section, FakeEmbedder."""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from index.embedder import FakeEmbedder
from index.sentence_store import chunk_sentence_spans
from index.types import DocumentRecord, Hit, SentenceRecord
from ingest.documents import Chunk, DocMeta, Document, Section, content_hash

_WORD = re.compile(r"[a-z0-9]+")


def make_document(doc_id: str, title: str, sections: list[tuple[str, str]], **meta) -> Document:
    """A Document whose text is the section bodies joined by blank lines."""
    text, spans = "", []
    for heading, body in sections:
        if text:
            text += "\n\n"
        start = len(text)
        text += body
        spans.append(Section(heading, start, len(text)))
    return Document(doc_id, f"/corpus/{doc_id}.md", text, DocMeta(title=title, **meta),
                    tuple(spans), content_hash(text))


class MemoryRetriever:
    """search/document/chunks_of and the sentence API of index.store.Index over literal documents: dense
    (FakeEmbedder) plus word overlap; sentences split and embedded as ingest does (one row per distinct text).

    `cites` maps a sentence text to the CitedWorks its records carry."""

    def __init__(self, docs: list[Document], embedder=None, pages: dict[str, int] | None = None,
                 cites: dict | None = None):
        self.embedder = embedder or FakeEmbedder()
        self.docs = {d.doc_id: d for d in docs}
        self.chunks: list[Chunk] = []
        for d in docs:
            for n, s in enumerate(d.sections):
                page = (pages or {}).get(d.doc_id)
                self.chunks.append(Chunk(f"{d.doc_id}#{n}", d.doc_id, d.text[s.start:s.end], s.start, s.end,
                                         s.heading, page, content_hash(d.text[s.start:s.end])))
        self.vectors = self.embedder.embed([self._search_text(c) for c in self.chunks])
        row_of: dict[str, int] = {}
        self.sentence_records: dict[str, tuple[SentenceRecord, ...]] = {}
        for c in self.chunks:
            records = []
            for s, e in chunk_sentence_spans(c):
                text = c.text[s:e]
                row = row_of.setdefault(text, len(row_of))
                records.append(SentenceRecord(c.chunk_id, s, e, row, tuple((cites or {}).get(text, ()))))
            self.sentence_records[c.chunk_id] = tuple(records)
        self.sentence_matrix = self.embedder.embed(list(row_of))
        self.embedded: list[str] = []  # every question embedded, to check it happens once per answer

    def _search_text(self, c: Chunk) -> str:
        return f"{self.docs[c.doc_id].meta.title}\n{c.heading}\n{c.text}"

    def document(self, doc_id: str) -> DocumentRecord | None:
        d = self.docs.get(doc_id)
        if d is None:
            return None
        qs = tuple(s.heading for s in d.sections if s.heading.endswith("?"))
        return DocumentRecord(d.doc_id, d.source, d.meta, d.content_hash, len(d.sections), qs)

    def documents(self) -> list[DocumentRecord]:
        return [self.document(doc_id) for doc_id in self.docs]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.doc_id == doc_id]

    def query_vector(self, text: str) -> np.ndarray:
        self.embedded.append(text)
        return self.embedder.embed([text])[0]

    def sentences(self, chunk_ids: Sequence[str]) -> dict[str, tuple[SentenceRecord, ...]]:
        return {cid: self.sentence_records.get(cid, ()) for cid in chunk_ids}

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.sentence_matrix[np.asarray(rows, dtype=np.int64)]

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters=None) -> list[Hit]:
        q = self.query_vector(query)
        dense = self.vectors @ q
        qwords = set(_WORD.findall(query.lower()))
        hits = []
        for c, d in zip(self.chunks, dense):
            doc = self.document(c.doc_id)
            if filters is not None and not filters.allows(doc.meta):
                continue
            words = set(_WORD.findall(self._search_text(c).lower()))
            lex = len(qwords & words) / max(1, len(qwords))
            hits.append(Hit(c, doc, 0.5 * float(d) + 0.5 * lex, dense_score=float(d), bm25_score=lex))
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return hits[:k]
