"""answer(question, index) -> Answer: an extractive, cited answer, as a pipeline of stages.

    retrieve (service/retrieve.py)      question -> Retrieval: hits and the question vector
    candidates (service/candidates.py)  Retrieval -> Candidates: stored sentences and their features
    score (service/scoring.py)          Candidates -> Scored: the learned scorer's probabilities
    select (service/select.py)          Scored -> Selection: summary, points, uncovered, or abstain
    compose (service/compose.py)        Selection -> Answer: numbering, references, sections

Every word of an answer is copied from a retrieved chunk. No web framework is imported here;
the renderings (JSON, Markdown, text) live in service/schemas.py and service/render.py.
"""
from __future__ import annotations

import time
from dataclasses import replace

from service.answer_types import SOURCE_DOCUMENTS, Answer, Point  # noqa: F401  (Point: re-exported for callers)
from service.candidates import build_candidates
from service.compose import DEFAULT_ABSTAIN_TEXT, compose
from service.retrieve import retrieve
from service.scoring import score
from service.select import MAX_POINTS, MIN_COVERAGE, MIN_EVIDENCE, select

DEFAULT_DISCLAIMER = (
    "This information is intended for healthcare professionals and is provided for educational "
    "purposes only. It is not a substitute for professional clinical judgement; verify every "
    "statement against the cited primary literature before applying it to patient care."
)
CANDIDATE_CHUNKS = 20  # chunks retrieved per question; their sentences are the candidates
__all__ = ["DEFAULT_ABSTAIN_TEXT", "DEFAULT_DISCLAIMER", "MIN_COVERAGE", "MIN_EVIDENCE", "EmptyQuestion",
           "Answer", "Point", "answer", "retrieve"]


class EmptyQuestion(ValueError):
    """The question has no text."""


def answer(
    question: str,
    index,
    embedder=None,
    *,
    top_k: int = SOURCE_DOCUMENTS,
    filters=None,
    disclaimer: str = DEFAULT_DISCLAIMER,
    abstain_text: str = DEFAULT_ABSTAIN_TEXT,
    min_evidence: float = MIN_EVIDENCE,
    min_coverage: float = MIN_COVERAGE,
    candidates: int = CANDIDATE_CHUNKS,
    max_points: int = MAX_POINTS,
) -> Answer:
    """Retrieve `candidates` chunks, choose sentences from at most `top_k` documents, compose the answer.

    `embedder` is accepted for callers of the earlier signature; the index embeds the question itself.
    """
    if not question or not question.strip():
        raise EmptyQuestion("the question is empty")
    t0 = time.perf_counter()
    retrieval = retrieve(question, index, k=max(candidates, top_k), filters=filters)
    t1 = time.perf_counter()
    scored = score(build_candidates(retrieval, index, top_k))
    selection = select(scored, max_points=max_points, min_evidence=min_evidence, min_coverage=min_coverage)
    result = compose(question, retrieval, selection, index, disclaimer, abstain_text=abstain_text)
    t2 = time.perf_counter()
    return replace(result, timings_ms={"retrieve": ms(t1 - t0), "compose": ms(t2 - t1), "total": ms(t2 - t0)})


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded for display."""
    return round(seconds * 1000.0, 3)
