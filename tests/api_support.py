"""Fakes and helpers shared by the API, CLI and browser tests: a tiny in-memory index and answerer."""
from __future__ import annotations

import re
import threading

import numpy as np

from index.embedder import FakeEmbedder
from index.sentence_store import chunk_sentence_spans
from index.types import DocumentRecord, Hit, SentenceRecord
from ingest.documents import Chunk, DocMeta
from service.app import create_app
from service.settings import Settings

_WORDS = re.compile(r"[a-z]+")
DOCS = {
    "buttock-1": ("Buttock pain versus low back pain", "guideline", 2004,
                  ["Buttock pain is felt below the iliac crest.", "Low back pain is felt above it."]),
    "sij-2": ("Sacroiliac joint pain", "review", 2019,
              ["Sacroiliac joint pain often refers to the buttock.", "It is worse when standing up."]),
}


class FakeIndex:
    """Two documents, word-overlap search; the methods and shapes of index.store.Index."""

    def __init__(self):
        self.records, self.chunks = {}, {}
        for doc_id, (title, kind, year, texts) in DOCS.items():
            meta = DocMeta(title=title, type=kind, year=year, authors=("A. Author",), journal="J Pain",
                           url=f"https://example.org/{doc_id}")
            self.records[doc_id] = DocumentRecord(doc_id, f"corpus/{doc_id}.md", meta, "h" + doc_id, len(texts))
            self.chunks[doc_id] = [Chunk(f"{doc_id}#{n}", doc_id, t, 0, len(t), "Overview", 1)
                                   for n, t in enumerate(texts)]
        self.embedder = FakeEmbedder()
        self.sentence_records, texts = {}, []
        for c in (c for chunks in self.chunks.values() for c in chunks):
            spans = chunk_sentence_spans(c)
            self.sentence_records[c.chunk_id] = tuple(
                SentenceRecord(c.chunk_id, s, e, len(texts) + n) for n, (s, e) in enumerate(spans))
            texts.extend(c.text[s:e] for s, e in spans)
        self.sentence_matrix = self.embedder.embed(texts)

    def __len__(self):
        return sum(len(c) for c in self.chunks.values())

    def documents(self):
        return list(self.records.values())

    def document(self, doc_id):
        return self.records.get(doc_id)

    def chunks_of(self, doc_id):
        return list(self.chunks.get(doc_id, []))

    def query_vector(self, text):
        return self.embedder.embed([text])[0]

    def sentences(self, chunk_ids):
        return {cid: self.sentence_records.get(cid, ()) for cid in chunk_ids}

    def sentence_vectors(self, rows):
        return self.sentence_matrix[np.asarray(rows, dtype=np.int64)]

    def search(self, query, k=10, mode="hybrid", filters=None):
        words = set(_WORDS.findall(query.lower()))
        hits = []
        for doc_id, chunks in self.chunks.items():
            record = self.records[doc_id]
            if filters is not None and not filters.allows(record.meta):
                continue
            for c in chunks:
                score = len(words & set(_WORDS.findall(c.text.lower())))
                if score:
                    hits.append(Hit(c, record, float(score)))
        return sorted(hits, key=lambda h: -h.score)[:k]


def fake_answer(question, index, embedder, top_k, filters, disclaimer):
    """A contract-shaped answer from the fake index: its best chunk is the one point."""
    hits = index.search(question, k=top_k, filters=filters)
    if not hits or "abstain" in question.lower():
        return {"question": question, "abstained": True, "summary": "The indexed sources do not answer this question.",
                "points": [], "references": [], "related_questions": [], "disclaimer": disclaimer or "Not advice.",
                "timings_ms": {"total": 1.0}}
    refs, points = [], []
    for n, h in enumerate(hits[:2], start=1):
        d = h.document
        refs.append({"number": n, "doc_id": d.doc_id, "source": d.source, "title": d.meta.title, "type": d.meta.type,
                     "authors": list(d.meta.authors), "journal": d.meta.journal, "year": d.meta.year,
                     "url": d.meta.url, "doi": None, "page": h.chunk.page,
                     "passages": [{"chunk_id": h.chunk.chunk_id, "page": h.chunk.page, "text": h.chunk.text}]})
        points.append({"text": h.chunk.text, "citations": [n]})
    return {"question": question, "abstained": False, "summary": f"{hits[0].chunk.text} [1]", "points": points,
            "references": refs, "related_questions": ["What is sacroiliac joint pain?"],
            "disclaimer": disclaimer or "Not advice.", "timings_ms": {"retrieve": 0.5, "compose": 0.5, "total": 1.0}}


def fake_app(settings: Settings | None = None, *, gate: threading.Event | None = None, index_error=None, answerer=None):
    """The real app over FakeEmbedder + FakeIndex; `gate` holds loading back, `index_error` fails the open."""
    from service.deps import get_answerer

    def load_model(_settings):
        if gate is not None:
            gate.wait(10)
        return FakeEmbedder()

    def open_index(_settings, _embedder):
        if index_error is not None:
            raise index_error
        return FakeIndex()

    app = create_app(settings or Settings(index="/nonexistent-medcite-index"), load_model_fn=load_model,
                     open_index_fn=open_index)
    app.dependency_overrides[get_answerer] = lambda: answerer or fake_answer
    return app


def wait_settled(client, timeout: float = 10.0) -> None:
    """Wait until the app has finished loading its model and index (served or not)."""
    if not client.app.state.service.settled.wait(timeout):
        raise AssertionError("the app is still loading")


def wait_ready(client, timeout: float = 10.0) -> None:
    """Wait for loading to finish, then insist that /readyz says ready."""
    wait_settled(client, timeout)
    r = client.get("/readyz")
    if r.status_code != 200:
        raise AssertionError(f"not ready: {r.json()}")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
