"""answer(question, index, embedder) -> Answer: an extractive, cited answer, and its renderings.

Every word of an answer is copied from a retrieved chunk: a one-sentence summary, 3 to 8 points
(each one or more consecutive sentences of one source), numbered references in order of first
citation, related questions and the disclaimer. When the evidence is weak the answer abstains.
No web framework is imported here; service/app.py and service/cli.py only render an Answer.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from index.store import chunk_search_text
from service.answer_types import Answer, Passage, Point, Reference
from service.evidence import (
    Candidate,
    candidates_of,
    collapse,
    compared_terms,
    coverage,
    defined_terms,
    mmr,
    pick_summary,
    query_terms,
    similarity,
)

DEFAULT_DISCLAIMER = (
    "This information is intended for healthcare professionals and is provided for educational "
    "purposes only. It is not a substitute for professional clinical judgement; verify every "
    "statement against the cited primary literature before applying it to patient care."
)
DEFAULT_ABSTAIN_TEXT = "The indexed sources do not answer this question."
# Calibrated by eval/abstention.py (MiniLM, medquad-dev vs tests/data/offtopic_questions.txt):
# the best chunk's cosine to the question, and the share of the question's topic terms that
# the top chunks contain.
MIN_EVIDENCE = 0.40
MIN_COVERAGE = 0.5
MERGE_SIMILARITY = 0.8  # term-set Jaccard above which two sentences state the same thing


class EmptyQuestion(ValueError):
    """The question has no text."""


# --- the core function --------------------------------------------------------------------


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
    """Retrieve `candidates` chunks, pick evidence sentences from at most `top_k` documents, compose."""
    if not question or not question.strip():
        raise EmptyQuestion("the question is empty")
    t0 = time.perf_counter()
    hits = index.search(question, k=max(candidates, top_k), mode="hybrid", filters=filters)
    hits = with_dense_scores(question, hits, embedder)
    t1 = time.perf_counter()
    qterms = query_terms(question)
    evidence = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    cov = coverage(qterms, hits)
    allowed = first_documents(hits, top_k)
    pool = [c for c in candidates_of(hits, qterms, defined_terms(question)) if c.doc_id in allowed and c.on_topic]
    if not pool or evidence < min_evidence or cov < min_coverage:
        result = abstention(question, hits, disclaimer, abstain_text, evidence, cov)
    else:
        result = compose(question, hits, pool, index, disclaimer, max_points, min_points, evidence, cov)
    t2 = time.perf_counter()
    timings = {"retrieve": ms(t1 - t0), "compose": ms(t2 - t1), "total": ms(t2 - t0)}
    return _replace_timings(result, timings)


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded for display."""
    return round(seconds * 1000.0, 3)


def _replace_timings(a: Answer, timings: dict) -> Answer:
    """A copy of the answer with its timings set."""
    from dataclasses import replace

    return replace(a, timings_ms=timings)


def with_dense_scores(question: str, hits, embedder):
    """Hits with dense cosines: computed here for the top 3 only when the retriever gave none at all."""
    from dataclasses import replace

    if embedder is None or any(h.dense_score is not None for h in hits):
        return hits
    missing = list(range(min(3, len(hits))))
    texts = [chunk_search_text(hits[i].document.meta.title, hits[i].chunk.heading, hits[i].chunk.text)
             for i in missing]
    vecs = embedder.embed([question] + texts)
    sims = vecs[1:] @ vecs[0]
    hits = list(hits)
    for i, sim in zip(missing, np.asarray(sims, dtype=float)):
        hits[i] = replace(hits[i], dense_score=float(sim))
    return hits


def first_documents(hits, k: int) -> set[str]:
    """The ids of the first k distinct documents in retrieval order."""
    seen: list[str] = []
    for h in hits:
        if h.document.doc_id not in seen:
            seen.append(h.document.doc_id)
            if len(seen) == k:
                break
    return set(seen)


# --- composition --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """A summary or point before numbering: text, its primary source and agreeing sources."""

    text: str
    sources: tuple[Candidate, ...]  # the first is where the text is copied from
    score: float


def compose(question, hits, pool, index, disclaimer, max_points, min_points, evidence, cov) -> Answer:
    """Summary, points, numbered references and related questions from the candidate pool."""
    best = pick_summary(pool, query_terms(question), compared=compared_terms(question))
    picks = mmr(pool, k=1 + max_points, chosen=[best])
    rest = [c for i, c in enumerate(picks[1:]) if i < min_points or c.score >= 0.6 * best.score]
    summary = _Unit(best.text, agreeing(best, pool), best.score)
    points = [_Unit(text, agreeing(group[0], pool, group), max(c.score for c in group))
              for text, group in group_consecutive(rest)]
    numbers: dict[str, int] = {}
    passages: dict[str, list[Candidate]] = {}
    summary_cites = cite(summary, numbers, passages)
    out_points = tuple(Point(u.text, cite(u, numbers, passages)) for u in points)
    docs = {h.document.doc_id: h.document for h in hits}
    refs = tuple(reference(n, docs[d], passages[d]) for d, n in sorted(numbers.items(), key=lambda x: x[1]))
    related = related_questions(question, [docs[r.doc_id] for r in refs], index)
    return Answer(question, False, summary.text, out_points, refs, tuple(related), disclaimer,
                  summary_citations=summary_cites, evidence=evidence, coverage=cov)


def group_consecutive(picks: list[Candidate]) -> list[tuple[str, list[Candidate]]]:
    """Merge picked sentences that are adjacent in one chunk into one point (a verbatim span)."""
    groups: list[list[Candidate]] = []
    for c in picks:
        for g in groups:
            if g[0].chunk.chunk_id == c.chunk.chunk_id and (c.index == g[-1].index + 1 or c.index == g[0].index - 1):
                g.append(c)
                g.sort(key=lambda x: x.index)
                break
        else:
            groups.append([c])
    out = []
    for g in groups:
        text = collapse(g[0].chunk.text[g[0].start:g[-1].end]) if len(g) > 1 else g[0].text
        out.append((text, g))
    return out


def agreeing(primary: Candidate, pool: list[Candidate], group: list[Candidate] | None = None) -> tuple[Candidate, ...]:
    """The primary sentence plus near-identical sentences of other documents, which it also cites."""
    out = [primary]
    docs = {primary.doc_id}
    members = group or [primary]
    for c in pool:
        if c.doc_id in docs:
            continue
        if any(similarity(c.terms, m.terms) >= MERGE_SIMILARITY for m in members):
            out.append(c)
            docs.add(c.doc_id)
    return tuple(out)


def cite(unit: _Unit, numbers: dict[str, int], passages: dict[str, list[Candidate]]) -> tuple[int, ...]:
    """Reference numbers for a unit, numbering new documents in order of first citation."""
    cites = []
    for c in unit.sources:
        if c.doc_id not in numbers:
            numbers[c.doc_id] = len(numbers) + 1
            passages[c.doc_id] = []
        if all(p.chunk.chunk_id != c.chunk.chunk_id for p in passages[c.doc_id]):
            passages[c.doc_id].append(c)
        if numbers[c.doc_id] not in cites:
            cites.append(numbers[c.doc_id])
    return tuple(sorted(cites))


def reference(number: int, doc, cands: list[Candidate]) -> Reference:
    """A numbered reference for a DocumentRecord and the chunks cited from it."""
    m = doc.meta
    passages = tuple(Passage(c.chunk.chunk_id, c.chunk.page, c.chunk.text) for c in cands)
    page = passages[0].page if passages else None
    return Reference(number, doc.doc_id, doc.source, m.title, m.type, tuple(m.authors), m.journal,
                     m.year, m.url, m.doi, page, passages)


def abstention(question, hits, disclaimer, abstain_text, evidence, cov, nearest: int = 3) -> Answer:
    """An abstaining answer that still lists the nearest sources, if any were retrieved."""
    refs: list[Reference] = []
    for h in hits:
        if len(refs) == nearest:
            break
        if any(r.doc_id == h.document.doc_id for r in refs):
            continue
        fake = Candidate(0, h.document.doc_id, h.chunk, 0, 0, 0, "", frozenset(), 0.0)
        refs.append(reference(len(refs) + 1, h.document, [fake]))
    return Answer(question, True, abstain_text, (), tuple(refs), (), disclaimer, evidence=evidence, coverage=cov)


# --- related questions --------------------------------------------------------------------

_QUESTION_START = re.compile(
    r"^(what|how|why|when|where|which|who|whom|whose|is|are|can|could|does|do|did|should|will|would|was|were|has|have)\b",
    re.I,
)


def is_question(heading: str) -> bool:
    """A heading phrased as a question."""
    h = heading.strip()
    return bool(h) and (h.endswith("?") or bool(_QUESTION_START.match(h)))


def _norm_q(text: str) -> str:
    """A question reduced to its words, for comparing two phrasings."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def related_questions(question: str, docs, index, limit: int = 5) -> list[str]:
    """Question headings of the cited documents, round-robin across them, without the asked one."""
    per_doc = [doc_questions(d, index) for d in docs]
    seen = {_norm_q(question)}
    out: list[str] = []
    for depth in range(max((len(q) for q in per_doc), default=0)):
        for qs in per_doc:
            if depth < len(qs) and len(out) < limit:
                q = collapse(qs[depth])
                key = _norm_q(q)
                if key and key not in seen:
                    seen.add(key)
                    out.append(q if q.endswith("?") else q + "?")
    return out


def doc_questions(doc, index) -> list[str]:
    """A document's question headings: from its record, else from its chunks' headings."""
    if doc.questions:
        return [q for q in doc.questions if is_question(q)]
    chunks_of = getattr(index, "chunks_of", None)
    if chunks_of is None:
        return []
    out: list[str] = []
    for ch in chunks_of(doc.doc_id):
        if is_question(ch.heading) and ch.heading not in out:
            out.append(ch.heading)
    return out


# --- renderings ---------------------------------------------------------------------------


def markers(numbers) -> str:
    """Citation markers as text: "[1]" or "[1, 3]"."""
    return "[" + ", ".join(str(n) for n in numbers) + "]" if numbers else ""


def summary_with_markers(a: Answer) -> str:
    """The summary followed by its citation markers, as the contract's JSON carries it."""
    m = markers(a.summary_citations)
    return f"{a.summary} {m}" if m else a.summary


def reference_to_dict(r: Reference) -> dict:
    """A reference in the contract's JSON shape."""
    return {
        "number": r.number, "doc_id": r.doc_id, "source": r.source, "title": r.title,
        "type": r.type or None, "authors": list(r.authors), "journal": r.journal or None,
        "year": r.year, "url": r.url or None, "doi": r.doi or None, "page": r.page,
        "passages": [{"chunk_id": p.chunk_id, "page": p.page, "text": p.text} for p in r.passages],
    }


def answer_to_dict(a: Answer) -> dict:
    """The answer in the JSON shape of /work/shared/CONTRACT.md."""
    return {
        "question": a.question,
        "abstained": a.abstained,
        "summary": summary_with_markers(a),
        "points": [{"text": p.text, "citations": list(p.citations)} for p in a.points],
        "references": [reference_to_dict(r) for r in a.references],
        "related_questions": list(a.related_questions),
        "disclaimer": a.disclaimer,
        "timings_ms": dict(a.timings_ms),
    }


def format_reference(r: Reference) -> str:
    """One reference line: authors. title. journal, year. [type]. page. URL or DOI."""
    parts = []
    if r.authors:
        parts.append(", ".join(r.authors[:6]) + (", et al" if len(r.authors) > 6 else ""))
    parts.append(r.title or r.doc_id)
    venue = ", ".join(x for x in (r.journal, str(r.year) if r.year else "") if x)
    if venue:
        parts.append(venue)
    if r.type:
        parts.append(f"[{r.type}]")
    if r.page is not None:
        parts.append(f"p. {r.page}")
    link = f"https://doi.org/{r.doi}" if r.doi else (r.url or r.source)
    if link:
        parts.append(link)
    return ". ".join(p.rstrip(".") for p in parts) + "."


def answer_to_markdown(a: Answer) -> str:
    """The answer as Markdown: summary, bullet points with markers, references, related questions."""
    lines = [f"**{a.summary}** {markers(a.summary_citations)}".rstrip(), ""]
    lines += [f"- {p.text} {markers(p.citations)}" for p in a.points]
    if a.references:
        title = "Nearest sources" if a.abstained else "References"
        lines += ["", f"### {title}", ""] + [f"{r.number}. {format_reference(r)}" for r in a.references]
    if a.related_questions:
        lines += ["", "### Related questions", ""] + [f"- {q}" for q in a.related_questions]
    lines += ["", "---", "", f"*{a.disclaimer}*", ""]
    return "\n".join(_squeeze(lines))


def answer_to_text(a: Answer, width: int = 100) -> str:
    """The answer for a terminal: wrapped summary and points, references, related questions, disclaimer."""
    import textwrap

    def wrap(text: str, first: str = "", rest: str = "") -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest) or [first]

    lines = wrap(summary_with_markers(a)) + [""]
    for p in a.points:
        lines += wrap(f"{p.text} {markers(p.citations)}", "  * ", "    ")
    if a.references:
        lines += ["", "Nearest sources:" if a.abstained else "References:"]
        for r in a.references:
            lines += wrap(format_reference(r), f"  [{r.number}] ", "      ")
    if a.related_questions:
        lines += ["", "Related questions:"] + [f"  - {q}" for q in a.related_questions]
    lines += [""] + wrap(a.disclaimer) + [""]
    return "\n".join(_squeeze(lines))


def _squeeze(lines: list[str]) -> list[str]:
    """Drop repeated blank lines (an answer without points leaves two in a row)."""
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out
