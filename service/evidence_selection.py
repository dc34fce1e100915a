"""Temporary adapter: a Selection built from service/evidence.py's sentence picks (today's selection).

It feeds compose until the `select` branch lands service/select.py, which replaces this module and
evidence.py. The choices are exactly today's: the summary is pick_summary's sentence, points are MMR picks
(sentences adjacent in one chunk merged into one verbatim span) and near-identical sentences of other
documents are cited as well (`Pick.also`).
"""
from __future__ import annotations

from collections.abc import Sequence

from index.types import Hit
from service.answer_types import Pick, Retrieval, Selection
from service.evidence import (
    Candidate, candidates_of, collapse, compared_terms, coverage, defined_terms, mmr, pick_summary,
    query_terms, similarity,
)

# Calibrated by eval/abstention.py (MiniLM, medquad-dev vs tests/data/offtopic_questions.txt): the best
# chunk's cosine to the question, and the share of the question's topic terms that the top chunks contain.
MIN_EVIDENCE = 0.40
MIN_COVERAGE = 0.5
MERGE_SIMILARITY = 0.8  # term-set Jaccard above which two sentences state the same thing
# A point beyond the first min_points is kept only when it scores at least this share of the summary's score
# (tuned on medquad-dev with the rest of evidence.py's weights).
POINT_SCORE_SHARE = 0.6


def select_from_evidence(question: str, retrieval: Retrieval, *, top_k: int = 5,
                         min_evidence: float = MIN_EVIDENCE, min_coverage: float = MIN_COVERAGE,
                         max_points: int = 8, min_points: int = 3) -> Selection:
    """Summary and points from the sentences of the first `top_k` documents, or an abstention."""
    hits = list(retrieval.hits)
    qterms = query_terms(question)
    evidence = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    cov = coverage(qterms, hits)
    allowed = first_documents(hits, top_k)
    pool = [c for c in candidates_of(hits, qterms, defined_terms(question)) if c.doc_id in allowed and c.on_topic]
    if not pool or evidence < min_evidence or cov < min_coverage:
        return Selection(None, (), True, evidence=evidence, coverage=cov)
    best = pick_summary(pool, qterms, compared=compared_terms(question))
    picks = mmr(pool, k=1 + max_points, chosen=[best])
    rest = [c for i, c in enumerate(picks[1:]) if i < min_points or c.score >= POINT_SCORE_SHARE * best.score]
    summary = to_pick([best], hits, pool)
    points = tuple(to_pick(group, hits, pool) for group in group_consecutive(rest))
    return Selection(summary, points, False, evidence=evidence, coverage=cov)


def first_documents(hits: Sequence[Hit], k: int) -> set[str]:
    """The ids of the first k distinct documents in retrieval order."""
    seen: list[str] = []
    for h in hits:
        if h.document.doc_id not in seen:
            seen.append(h.document.doc_id)
            if len(seen) == k:
                break
    return set(seen)


def group_consecutive(picks: list[Candidate]) -> list[list[Candidate]]:
    """Picked sentences that are adjacent in one chunk, merged into one group (one verbatim span)."""
    groups: list[list[Candidate]] = []
    for c in picks:
        for g in groups:
            if g[0].chunk.chunk_id == c.chunk.chunk_id and (c.index == g[-1].index + 1 or c.index == g[0].index - 1):
                g.append(c)
                g.sort(key=lambda x: x.index)
                break
        else:
            groups.append([c])
    return groups


def to_pick(group: list[Candidate], hits: Sequence[Hit], pool: list[Candidate]) -> Pick:
    """A group of adjacent sentences of one chunk as a Pick, with the agreeing sentences it also cites."""
    first, last = group[0], group[-1]
    text = collapse(first.chunk.text[first.start:last.end]) if len(group) > 1 else first.text
    hit = hits[first.hit_rank]
    also = tuple(_single(c, hits) for c in agreeing(first, pool, group))
    return Pick(hit, first.start, last.end, text, hit.chunk.heading, max(c.score for c in group), (), also)


def _single(c: Candidate, hits: Sequence[Hit]) -> Pick:
    """One candidate sentence as a Pick."""
    hit = hits[c.hit_rank]
    return Pick(hit, c.start, c.end, c.text, hit.chunk.heading, c.score)


def agreeing(primary: Candidate, pool: list[Candidate], group: list[Candidate]) -> list[Candidate]:
    """Near-identical sentences of other documents (one per document), which the point cites as well."""
    out: list[Candidate] = []
    docs = {primary.doc_id}
    for c in pool:
        if c.doc_id in docs:
            continue
        if any(similarity(c.terms, m.terms) >= MERGE_SIMILARITY for m in group):
            out.append(c)
            docs.add(c.doc_id)
    return out
