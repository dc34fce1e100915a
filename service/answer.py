"""answer(question, index, embedder) -> Answer: retrieve -> select -> compose.

Every word of an answer is copied from a retrieved chunk: a one-sentence summary, 3 to 8 points (each one or
more consecutive sentences of one source) grouped under section headings, numbered references in order of
first citation, related questions and the disclaimer. When the evidence is weak the answer abstains.
No web framework is imported here; the renderings (JSON, Markdown, text) live in service/schemas.py and
service/render.py.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from index.store import chunk_search_text
from service.answer_types import Answer, Point, Retrieval  # noqa: F401  (Point: re-exported for callers)
from service.compose import DEFAULT_ABSTAIN_TEXT, compose
from service.evidence_selection import MIN_COVERAGE, MIN_EVIDENCE, select_from_evidence

DEFAULT_DISCLAIMER = (
    "This information is intended for healthcare professionals and is provided for educational "
    "purposes only. It is not a substitute for professional clinical judgement; verify every "
    "statement against the cited primary literature before applying it to patient care."
)
__all__ = ["DEFAULT_ABSTAIN_TEXT", "DEFAULT_DISCLAIMER", "MIN_COVERAGE", "MIN_EVIDENCE", "EmptyQuestion",
           "Answer", "Point", "answer", "retrieve"]
DENSE_BACKFILL = 3  # hits given a cosine here when the retriever reported none (the summary comes from these)


class EmptyQuestion(ValueError):
    """The question has no text."""


def answer(
    question: str,
    index,
    embedder=None,
    *,
    top_k: int = 5,
    filters=None,
    disclaimer: str = DEFAULT_DISCLAIMER,
    abstain_text: str = DEFAULT_ABSTAIN_TEXT,
    min_evidence: float = MIN_EVIDENCE,
    min_coverage: float = MIN_COVERAGE,
    candidates: int = 20,
    max_points: int = 8,
    min_points: int = 3,
) -> Answer:
    """Retrieve `candidates` chunks, select evidence from at most `top_k` documents, compose the Answer."""
    if not question or not question.strip():
        raise EmptyQuestion("the question is empty")
    t0 = time.perf_counter()
    retrieval = retrieve(question, index, embedder, k=max(candidates, top_k), filters=filters)
    t1 = time.perf_counter()
    selection = select_from_evidence(question, retrieval, top_k=top_k, min_evidence=min_evidence,
                                     min_coverage=min_coverage, max_points=max_points, min_points=min_points)
    result = compose(question, retrieval, selection, index, disclaimer, abstain_text=abstain_text)
    t2 = time.perf_counter()
    return replace(result, timings_ms={"retrieve": ms(t1 - t0), "compose": ms(t2 - t1), "total": ms(t2 - t0)})


def retrieve(question: str, index, embedder=None, *, k: int, filters=None) -> Retrieval:
    """Hybrid search for the question; the hits carry dense cosines (see with_dense_scores)."""
    t0 = time.perf_counter()
    hits = with_dense_scores(question, index.search(question, k=k, mode="hybrid", filters=filters), embedder)
    # the question vector arrives with the sent branch's Index.query_vector; nothing here needs it yet
    return Retrieval(question, np.empty(0, dtype=np.float32), tuple(hits), time.perf_counter() - t0)


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded for display."""
    return round(seconds * 1000.0, 3)


def with_dense_scores(question: str, hits, embedder):
    """Hits with dense cosines: computed here for the top few only when the retriever gave none at all."""
    if embedder is None or any(h.dense_score is not None for h in hits):
        return hits
    missing = list(range(min(DENSE_BACKFILL, len(hits))))
    texts = [chunk_search_text(hits[i].document.meta.title, hits[i].chunk.heading, hits[i].chunk.text)
             for i in missing]
    vecs = embedder.embed([question] + texts)
    sims = vecs[1:] @ vecs[0]
    hits = list(hits)
    for i, sim in zip(missing, np.asarray(sims, dtype=float)):
        hits[i] = replace(hits[i], dense_score=float(sim))
    return hits
