"""compose(question, retrieval, selection, index, disclaimer) -> Answer: number, group and reference the picks.

The last stage of the answer path. It adds no text of its own: the summary and points are the selected
verbatim spans, references are numbered 1..n in order of first citation (summary first, then the points in
their final, sectioned order), and every point sits under a heading copied from the section it was quoted
from, or under the evidence label of its source's type. No web framework is imported here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from index.types import DocumentRecord, Hit
from ingest.documents import CitedWork
from service.answer_types import (
    EVIDENCE_LABELS, Answer, Passage, Pick, Point, Reference, Retrieval, Selection,
)

DEFAULT_ABSTAIN_TEXT = "The indexed sources do not answer this question."
NEAREST_SOURCES = 3  # references an abstention lists: enough to look further, few enough to read
RELATED_LIMIT = 5  # related questions shown under an answer (the web page's list fits five lines)

# Document type (ingest.documents.DOC_TYPES) -> the evidence label its points are grouped under when their
# own section heading is not a usable facet. Anything else, an empty type included, is "Other sources".
LABEL_OF_TYPE = dict(zip(("guideline", "systematic review", "research", "review", "patient information"),
                         EVIDENCE_LABELS))
OTHER_SOURCES = EVIDENCE_LABELS[-1]

# Headings that name a part of a document's layout rather than a facet of the question: grouping points
# under "Abstract" or "3. Results" tells the reader nothing. Compared after dropping a leading section
# number and case.
STRUCTURAL_HEADINGS = frozenset(w.strip() for w in """abstract, introduction, background, overview, summary,
    main text, body, methods, method, materials and methods, methods and materials, results, discussion,
    conclusion, conclusions, results and discussion, findings, objective, objectives, aim, aims, purpose,
    context, design, setting, participants, limitations, acknowledgements, acknowledgments, funding,
    references, bibliography, appendix, supplementary material, keywords, key points, highlights, notes,
    case presentation, case report, study design, statistical analysis, trial registration""".split(","))
# A facet heading reads as a label: longer "headings" are usually a sentence or a title run into the text.
# A heading phrased as a question states its facet in full and may run longer ("How is proximal hamstring
# tendinopathy told apart from other causes of buttock pain?" is 13 words); past 20 it is a sentence.
MAX_FACET_WORDS, MAX_QUESTION_FACET_WORDS = 12, 20
_SECTION_NUMBER = re.compile(r"^\s*(?:[0-9]+(?:\.[0-9]+)*|[ivxlc]+)[.)]?\s+", re.I)
_WS = re.compile(r"\s+")


# --- the stage ----------------------------------------------------------------------------


def compose(question: str, retrieval: Retrieval, selection: Selection, index, disclaimer: str, *,
            abstain_text: str = DEFAULT_ABSTAIN_TEXT) -> Answer:
    """The Answer for a selection: sectioned points, numbered references, related questions."""
    if selection.abstained or selection.summary is None:
        return abstention(question, retrieval.hits, disclaimer, abstain_text, selection)
    sectioned = sectioned_points(selection.points)
    book = _Numbering()
    summary_citations = book.cite(selection.summary)
    points = tuple(Point(pick.text, book.cite(pick), section) for section, pick in sectioned)
    references = book.references()
    related = related_questions(question, [_record(index, r.doc_id, retrieval.hits) for r in references], index)
    return Answer(question, False, selection.summary.text, points, references, tuple(related), disclaimer,
                  summary_citations=summary_citations, uncovered=tuple(selection.uncovered),
                  evidence=selection.evidence, coverage=selection.coverage)


def abstention(question: str, hits: Sequence[Hit], disclaimer: str, abstain_text: str,
               selection: Selection) -> Answer:
    """An abstaining answer that lists the nearest sources (uncited) so the reader can look further."""
    book = _Numbering()
    for hit in hits:
        if len(book.numbers) == NEAREST_SOURCES:
            break
        if hit.document.doc_id not in book.numbers:
            book.add_source(hit, ())
    return Answer(question, True, abstain_text, (), book.references(), (), disclaimer,
                  uncovered=tuple(selection.uncovered), evidence=selection.evidence, coverage=selection.coverage)


# --- sections -----------------------------------------------------------------------------


def is_facet_heading(heading: str, title: str = "") -> bool:
    """Whether a source's section heading can title a group of points (a facet such as "Diagnosis").

    Layout headings ("Abstract", "2. Methods"), the document's own title and run-on headings are not facets;
    a question-shaped heading ("Which spinal conditions cause buttock pain?") is, and is shown verbatim.
    """
    text = _WS.sub(" ", heading).strip()
    limit = MAX_QUESTION_FACET_WORDS if text.endswith("?") else MAX_FACET_WORDS
    if not text or len(text.split()) > limit or not any(ch.isalpha() for ch in text):
        return False
    bare = _SECTION_NUMBER.sub("", text).strip(" .:").lower()
    return bare not in STRUCTURAL_HEADINGS and bare != _WS.sub(" ", title).strip().lower()


def evidence_label(doc_type: str) -> str:
    """The evidence label for a document type ("guideline" -> "Guidelines"; unknown -> "Other sources")."""
    return LABEL_OF_TYPE.get((doc_type or "").strip().lower(), OTHER_SOURCES)


def section_of(pick: Pick) -> str:
    """The heading a point is grouped under: its own section's heading verbatim, else its evidence label.

    The heading is that of the chunk the span was copied from (a chunk never crosses a section), so a
    section holds only text quoted from sections of that name.
    """
    heading = _WS.sub(" ", pick.heading or pick.hit.chunk.heading or "").strip()
    if is_facet_heading(heading, pick.hit.document.meta.title):
        return heading
    return evidence_label(pick.hit.document.meta.type)


def sectioned_points(picks: Iterable[Pick]) -> list[tuple[str, Pick]]:
    """Points grouped contiguously by section: facet headings in order of their best point, then the
    evidence labels in EVIDENCE_LABELS order (guidelines first); selection order inside each section."""
    groups: dict[str, list[Pick]] = {}
    for pick in picks:
        groups.setdefault(section_of(pick), []).append(pick)
    facets = [s for s in groups if s not in EVIDENCE_LABELS]
    labels = [s for s in EVIDENCE_LABELS if s in groups]
    return [(section, pick) for section in facets + labels for pick in groups[section]]


# --- numbering and references -------------------------------------------------------------


@dataclass
class _Source:
    """What one cited document contributes to its reference: its record, passages and cited works."""

    record: DocumentRecord
    passages: list[Passage]
    cited_works: list[CitedWork]


class _Numbering:
    """Numbers documents in order of first citation and collects each one's passages and cited works."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.sources: dict[str, _Source] = {}

    def cite(self, pick: Pick) -> tuple[int, ...]:
        """The reference numbers of a pick and of the agreeing spans it also cites, ascending."""
        return tuple(sorted({self.add_source(p.hit, p.cites) for p in (pick, *pick.also)}))

    def add_source(self, hit: Hit, cites: Iterable[CitedWork]) -> int:
        """Record a cited chunk (and the works its span cites) under its document's number."""
        doc_id = hit.document.doc_id
        if doc_id not in self.numbers:
            self.numbers[doc_id] = len(self.numbers) + 1
            self.sources[doc_id] = _Source(hit.document, [], [])
        source = self.sources[doc_id]
        chunk = hit.chunk
        if all(p.chunk_id != chunk.chunk_id for p in source.passages):
            source.passages.append(Passage(chunk.chunk_id, chunk.page, chunk.text))
        for work in cites:
            add_cited_work(source.cited_works, work)
        return self.numbers[doc_id]

    def references(self) -> tuple[Reference, ...]:
        """The references in number order."""
        return tuple(reference(n, self.sources[d].record, self.sources[d].passages, self.sources[d].cited_works)
                     for d, n in sorted(self.numbers.items(), key=lambda item: item[1]))


def add_cited_work(works: list[CitedWork], work: CitedWork) -> None:
    """Add a cited work unless its entry text is there already; then fill in identifiers the first lacked."""
    for i, seen in enumerate(works):
        if seen.text == work.text:
            works[i] = replace(seen, doi=seen.doi or work.doi, pmid=seen.pmid or work.pmid)
            return
    works.append(work)


def reference(number: int, doc: DocumentRecord, passages: Sequence[Passage],
              cited_works: Sequence[CitedWork] = ()) -> Reference:
    """A numbered reference: the document's metadata as stored, its cited passages and their pages."""
    m = doc.meta
    pages = tuple(sorted({p.page for p in passages if p.page is not None}))
    return Reference(number, doc.doc_id, doc.source, m.title, m.type, tuple(m.authors), m.journal, m.year,
                     m.url, m.doi, pages[0] if pages else None, tuple(passages), pages, tuple(cited_works))


def _record(index, doc_id: str, hits: Sequence[Hit]) -> DocumentRecord:
    """A cited document's record: the one its hit carried (the index would return the same)."""
    for hit in hits:
        if hit.document.doc_id == doc_id:
            return hit.document
    return index.document(doc_id)


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


def related_questions(question: str, docs, index, limit: int = RELATED_LIMIT) -> list[str]:
    """Question headings of the cited documents, round-robin across them, without the asked one."""
    per_doc = [doc_questions(d, index) for d in docs]
    seen = {_norm_q(question)}
    out: list[str] = []
    for depth in range(max((len(q) for q in per_doc), default=0)):
        for qs in per_doc:
            if depth < len(qs) and len(out) < limit:
                q = _WS.sub(" ", qs[depth]).strip()
                key = _norm_q(q)
                if key and key not in seen:
                    seen.add(key)
                    out.append(q if q.endswith("?") else q + "?")
    return out


def doc_questions(doc: DocumentRecord, index) -> list[str]:
    """A document's question headings: from its record, else from its chunks' headings."""
    if doc.questions:
        return [q for q in doc.questions if is_question(q)]
    out: list[str] = []
    for chunk in index.chunks_of(doc.doc_id):
        if is_question(chunk.heading) and chunk.heading not in out:
            out.append(chunk.heading)
    return out
