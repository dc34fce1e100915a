"""The dataclasses of the answer path: what each stage hands to the next, and the Answer itself.

retrieve -> Retrieval -> candidates/score/select -> Selection -> compose -> Answer. No web imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.types import Hit
from ingest.documents import CitedWork

# Documents among those chunks whose sentences may be quoted. 8 rather than 5: an article split into many
# short documents (MedQuAD's one question per document) fills five places with its sibling sections, and the
# document that answers often ranks 6th-8th. On 1,000 medquad-dev questions the share of answers citing the
# relevant document is 0.837 with 5 and 0.860 with 8 (`medcite eval --dataset ../shared/data/medquad-dev
# --top-k 5`, and without --top-k); PubMedQA and COVID-QA barely move (README "Measured numbers").
SOURCE_DOCUMENTS = 8
EVIDENCE_LABELS = ("Guidelines", "Systematic reviews", "Research", "Reviews", "Patient information", "Other sources")


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found for a question: ranked chunk hits and the question's vector."""

    question: str
    query_vector: np.ndarray  # L2-normalised, the one dense search used
    hits: tuple[Hit, ...]
    seconds: float = 0.0


@dataclass(frozen=True)
class Pick:
    """A verbatim span chosen for the answer: `hit.chunk.text[start:end]` (one or more whole sentences)."""

    hit: Hit
    start: int
    end: int
    text: str  # the span with whitespace collapsed
    heading: str  # the heading of the section the span sits under
    score: float
    cites: tuple[CitedWork, ...] = ()  # primary literature the span cites, resolved at ingest
    also: tuple[Pick, ...] = ()  # near-identical spans in other documents, cited as well


@dataclass(frozen=True)
class Selection:
    """The chosen summary and points, or an abstention, before numbering and rendering."""

    summary: Pick | None
    points: tuple[Pick, ...]
    abstained: bool
    uncovered: tuple[str, ...] = ()  # question key terms no chosen span addresses
    evidence: float = 0.0  # the score compared with the abstention threshold
    coverage: float = 0.0


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk that a reference's cited sentences come from."""

    chunk_id: str
    page: int | None
    text: str


@dataclass(frozen=True)
class Reference:
    """A numbered source with its bibliographic data, the passages cited from it and the works they cite."""

    number: int
    doc_id: str
    source: str
    title: str
    type: str
    authors: tuple[str, ...]
    journal: str
    year: int | None
    url: str
    doi: str
    page: int | None
    passages: tuple[Passage, ...]
    pages: tuple[int, ...] = ()  # every page of the cited passages, ascending
    cited_works: tuple[CitedWork, ...] = ()


@dataclass(frozen=True)
class Point:
    """One or more consecutive sentences of one source, the references that state it, its section."""

    text: str
    citations: tuple[int, ...]
    section: str | None = None


@dataclass(frozen=True)
class Answer:
    """The whole response; text fields carry no markers: citation numbers travel in the number lists."""

    question: str
    abstained: bool
    summary: str
    points: tuple[Point, ...]
    references: tuple[Reference, ...]
    related_questions: tuple[str, ...]
    disclaimer: str
    timings_ms: dict = field(default_factory=dict)
    summary_citations: tuple[int, ...] = ()
    uncovered: tuple[str, ...] = ()
    evidence: float = 0.0  # the abstention score that was compared with the threshold
    coverage: float = 0.0  # share of the question's topic terms in the top chunks
