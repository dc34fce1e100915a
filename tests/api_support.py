"""Fakes and helpers shared by the API, CLI and browser tests: a tiny in-memory index and answerer."""
from __future__ import annotations

import re
import threading
from dataclasses import replace

import numpy as np

from index.embedder import FakeEmbedder
from index.sentence_store import chunk_sentence_spans
from index.types import DocumentRecord, Hit, SentenceRecord
from ingest.documents import Chunk, CitedWork, DocMeta
from service.answer_types import Pick, Retrieval, Selection
from service.compose import compose
from service.app import create_app
from service.settings import Settings

_WORDS = re.compile(r"[a-z]+")
# doc_id -> (title, type, year, [(heading, page, text), ...], extra metadata)
DOCS = {
    "buttock-1": ("Buttock pain versus low back pain", "guideline", 2004,
                  [("Overview", 1, "Buttock pain is felt below the iliac crest."),
                   ("Overview", 1, "Low back pain is felt above it.")], {"url": "https://example.org/buttock-1"}),
    "sij-2": ("Sacroiliac joint pain", "review", 2019,
              [("Overview", 1, "Sacroiliac joint pain often refers to the buttock."),
               ("Overview", 1, "It is worse when standing up.")], {"url": "https://example.org/sij-2"}),
}
MAHER = CitedWork("Maher 2017", "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. "
                  "2017;389(10070):736-47.", doi="10.1016/S0140-6736(16)30970-9", pmid="27745712")
# A review whose sections are facets (Diagnosis, Treatment), whose text cites primary work and holds bracketed
# numbers that are the source's own ("[2, 3]", "G1P[8]"), and a research paper without any URL or DOI.
EVIDENCE_DOCS = {
    "buttock-review": ("Buttock pain in adults: a narrative review", "review", 2021,
                       [("Diagnosis", 2, "Buttock pain below the iliac crest is usually referred from the lumbar "
                                         "spine (Maher 2017)."),
                        ("Diagnosis", 3, "Pain on sitting that is worse than pain on standing points to the "
                                         "sacroiliac joint [2, 3]."),
                        ("Treatment", 3, "Staying active is advised for most adults with buttock pain (Maher 2017)."),
                        ("Which spinal conditions cause buttock pain?", 4,
                         "Lumbar disc herniation and spinal stenosis can both cause buttock pain.")],
                       {"authors": ("R. Reviewer", "S. Second"), "journal": "Pain Rev", "doi": "10.1000/pr.2021.7"}),
    "rota-study": ("Rotavirus genotypes in adults with back pain", "research", 2020,
                   [("Abstract", 1, "The G1P[8] strain was found in adults admitted with buttock pain and fever.")],
                   {"authors": ("T. Tester",), "journal": "J Virol Pain"}),
}
MAX_FAKE_POINTS = 6
CITES = {"buttock-review#0": (MAHER,), "buttock-review#2": (MAHER,)}


class FakeIndex:
    """Literal documents, word-overlap search; the methods and shapes of index.store.Index."""

    def __init__(self, docs: dict | None = None, cites: dict | None = None):
        self.records, self.chunks, self.cites = {}, {}, dict(cites or {})
        for doc_id, (title, kind, year, sections, extra) in (docs or DOCS).items():
            meta = DocMeta(**{"title": title, "type": kind, "year": year, "authors": ("A. Author",),
                              "journal": "J Pain", **extra})
            questions = tuple(heading for heading, _, _ in sections if heading.endswith("?"))
            self.records[doc_id] = DocumentRecord(doc_id, f"corpus/{doc_id}.md", meta, "h" + doc_id, len(sections),
                                                  questions)
            self.chunks[doc_id] = [Chunk(f"{doc_id}#{n}", doc_id, t, 0, len(t), heading, page)
                                   for n, (heading, page, t) in enumerate(sections)]
        self.embedder = FakeEmbedder()
        self.sentence_records, texts = {}, []
        for c in (c for chunks in self.chunks.values() for c in chunks):
            spans = chunk_sentence_spans(c)
            self.sentence_records[c.chunk_id] = tuple(
                SentenceRecord(c.chunk_id, s, e, len(texts) + n, self.cites.get(c.chunk_id, ()))
                for n, (s, e) in enumerate(spans))
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
    """A real compose() over the fake index's best hits: the best chunk is the summary, the next ones the points.

    A question containing "abstain" abstains; one containing "yoga" reports yoga as uncovered.
    """
    hits = tuple(index.search(question, k=top_k, filters=filters))
    retrieval = Retrieval(question, np.empty(0, dtype=np.float32), hits)
    if not hits or "abstain" in question.lower():
        selection = Selection(None, (), True)
    else:
        picks = [Pick(h, 0, len(h.chunk.text), h.chunk.text, h.chunk.heading, h.score, index.cites.get(h.chunk.chunk_id, ()))
                 for h in hits[:MAX_FAKE_POINTS]]
        uncovered = ("yoga",) if "yoga" in question.lower() else ()
        selection = Selection(picks[0], tuple(picks[1:] or picks), False, uncovered=uncovered)
    a = compose(question, retrieval, selection, index, disclaimer or "Not advice.")
    return replace(a, timings_ms={"retrieve": 0.5, "compose": 0.5, "total": 1.0})


def fake_app(settings: Settings | None = None, *, gate: threading.Event | None = None, index_error=None, answerer=None,
             index_factory=FakeIndex):
    """The real app over FakeEmbedder + a fake index; `gate` holds loading back, `index_error` fails the open."""
    from service.deps import get_answerer

    def load_model(_settings):
        if gate is not None:
            gate.wait(10)
        return FakeEmbedder()

    def open_index(_settings, _embedder):
        if index_error is not None:
            raise index_error
        return index_factory()

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


def wait_http_ready(base: str, seconds: float = 10.0, proc=None, interval: float = 0.05) -> None:
    """Poll a live server's /readyz until it answers 200; fail if `proc` (the server's process) died first
    or the time runs out."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise AssertionError(f"server exited with {proc.returncode}: {err}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise AssertionError(f"{base} not ready after {seconds:.0f} s")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
