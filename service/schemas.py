"""Request and response models of the HTTP API (converted from the core dataclasses at the edge)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from index.types import DocumentRecord, Hit
from ingest.documents import DOC_TYPES, CitedWork
from service.answer_types import SOURCE_DOCUMENTS, Answer, Reference

MAX_QUESTION_CHARS = 2000
DocType = Literal[DOC_TYPES]  # type: ignore[valid-type]


def clean_text(value: str, name: str) -> str:
    """Strip a question/query and say plainly what is wrong with it (422 messages)."""
    text = value.strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f"{name} must be at most {MAX_QUESTION_CHARS:,} characters (got {len(text):,})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode text") from None
    if "\x00" in text:
        raise ValueError(f"{name} must not contain NUL characters")
    return text


def checked_text(name: str) -> type[str]:
    """The type of a question/query field: trimmed, 1 to 2,000 characters, errors naming the field."""
    return Annotated[str, AfterValidator(lambda value: clean_text(value, name)),
                     Field(description="1 to 2,000 characters (after trimming)",
                           json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS})]


class FiltersIn(BaseModel):
    """Metadata filters; every part is optional."""

    model_config = ConfigDict(extra="forbid")

    type: list[DocType] = Field(default_factory=list, max_length=len(DOC_TYPES),
                                description="document types to keep")
    year_min: int | None = Field(None, ge=1000, le=3000)
    year_max: int | None = Field(None, ge=1000, le=3000)

    @model_validator(mode="after")
    def _years_ordered(self) -> "FiltersIn":
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError("year_min must not be greater than year_max")
        return self


class AskRequest(BaseModel):
    """POST /ask: a free-text question."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "What is the difference between pain in the buttocks and low back pain?"}]})

    question: checked_text("question")
    top_k: int = Field(SOURCE_DOCUMENTS, ge=1, le=20, description="documents to compose the answer from")
    filters: FiltersIn | None = None


class SearchRequest(BaseModel):
    """POST /search: ranked chunks for a query."""

    model_config = ConfigDict(extra="forbid")

    query: checked_text("query")
    top_k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    filters: FiltersIn | None = None


# Responses: converted from the core dataclasses here, at the edge. extra="forbid" so a field that is not
# declared (and so not in the OpenAPI schema or CONTRACT.md) can never leak into a response.
class CitedWorkOut(BaseModel):
    """An entry of a cited document's own reference list that the quoted sentences cite."""

    model_config = ConfigDict(extra="forbid")
    marker: str = Field(..., description='the in-text citation, e.g. "Maher 2017" or "12"')
    text: str = Field(..., description="the reference-list entry, verbatim")
    doi: str | None = None
    pmid: str | None = None

    @classmethod
    def from_work(cls, w: CitedWork) -> "CitedWorkOut":
        """A CitedWork as JSON (empty identifiers become null)."""
        return cls(marker=w.marker, text=w.text, doi=w.doi or None, pmid=w.pmid or None)


class PassageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_id: str
    page: int | None = None
    text: str


class ReferenceOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int
    doc_id: str
    source: str = ""
    title: str | None = None
    type: str | None = None
    authors: list[str] = Field(default_factory=list)
    journal: str | None = None
    year: int | None = None
    url: str | None = None
    doi: str | None = None
    page: int | None = Field(None, description="the first of `pages`")
    pages: list[int] = Field(default_factory=list, description="every page of the cited passages, ascending")
    passages: list[PassageOut] = Field(default_factory=list)
    cited_works: list[CitedWorkOut] = Field(default_factory=list)

    @classmethod
    def from_reference(cls, r: Reference) -> "ReferenceOut":
        """A Reference as JSON (empty strings become null, as version 1 had them)."""
        return cls(
            number=r.number, doc_id=r.doc_id, source=r.source, title=r.title, type=r.type or None,
            authors=list(r.authors), journal=r.journal or None, year=r.year, url=r.url or None, doi=r.doi or None,
            page=r.page, pages=list(r.pages),
            passages=[PassageOut(chunk_id=p.chunk_id, page=p.page, text=p.text) for p in r.passages],
            cited_works=[CitedWorkOut.from_work(w) for w in r.cited_works],
        )


class PointOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., description="copied verbatim from a cited passage; carries no markers")
    citations: list[int]
    section: str | None = Field(None, description="the heading this point is grouped under")


class AnswerOut(BaseModel):
    """The contract JSON of an answer (CONTRACT.md, POST /ask, interface version 2)."""

    model_config = ConfigDict(extra="forbid")
    question: str
    abstained: bool
    summary: str = Field(..., description="plain copied text; its reference numbers are in summary_citations")
    summary_citations: list[int] = Field(default_factory=list)
    points: list[PointOut]
    references: list[ReferenceOut]
    uncovered: list[str] = Field(default_factory=list,
                                 description="key terms of the question that no quoted sentence addresses")
    related_questions: list[str] = Field(default_factory=list)
    disclaimer: str
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_answer(cls, a: Answer) -> "AnswerOut":
        """The core Answer as the contract's JSON model."""
        return cls(
            question=a.question, abstained=a.abstained, summary=a.summary,
            summary_citations=list(a.summary_citations),
            points=[PointOut(text=p.text, citations=list(p.citations), section=p.section) for p in a.points],
            references=[ReferenceOut.from_reference(r) for r in a.references],
            uncovered=list(a.uncovered), related_questions=list(a.related_questions), disclaimer=a.disclaimer,
            timings_ms=dict(a.timings_ms),
        )


class HitOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_id: str
    doc_id: str
    source: str
    title: str
    page: int | None
    score: float
    text: str

    @classmethod
    def from_hit(cls, hit: Hit) -> "HitOut":
        """A search Hit as the contract's /search JSON."""
        c, d = hit.chunk, hit.document
        return cls(chunk_id=c.chunk_id, doc_id=c.doc_id, source=d.source, title=d.meta.title, page=c.page,
                   score=float(hit.score), text=c.text)


class SearchResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hits: list[HitOut]


class DocumentOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_id: str
    source: str
    title: str
    type: str
    authors: list[str]
    journal: str
    year: int | None
    url: str
    doi: str
    chunk_count: int
    questions: list[str] = Field(default_factory=list)

    @classmethod
    def from_record(cls, d: DocumentRecord) -> "DocumentOut":
        """A DocumentRecord as the API shows it."""
        m = d.meta
        return cls(doc_id=d.doc_id, source=d.source, title=m.title, type=m.type, authors=list(m.authors),
                   journal=m.journal, year=m.year, url=m.url, doi=m.doi, chunk_count=d.chunk_count,
                   questions=list(d.questions))


class ChunkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_id: str
    heading: str
    page: int | None
    text: str


class DocumentDetail(DocumentOut):
    chunks: list[ChunkOut]


class DocumentList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    total: int
    offset: int
    documents: list[DocumentOut]


class UploadResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentOut]
    report: str = Field(..., description="the ingest summary line")


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]


class Ready(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ready"]
    chunks: int
    documents: int
    model: str


class ErrorOut(BaseModel):
    """Every error response: {"detail": "what went wrong"}."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """422: `detail` says what is wrong in one line; `errors` itemises it."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)
