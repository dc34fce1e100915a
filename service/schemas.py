"""Request and response models of the HTTP API (converted from the core dataclasses at the edge)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ingest.documents import DOC_TYPES

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
    top_k: int = Field(5, ge=1, le=20, description="passages to compose the answer from")
    filters: FiltersIn | None = None


class SearchRequest(BaseModel):
    """POST /search: ranked chunks for a query."""

    model_config = ConfigDict(extra="forbid")

    query: checked_text("query")
    top_k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    filters: FiltersIn | None = None


# Responses. extra="allow" keeps fields the answer module adds later instead of dropping them.
class PassageOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    chunk_id: str
    page: int | None = None
    text: str


class ReferenceOut(BaseModel):
    model_config = ConfigDict(extra="allow")
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
    page: int | None = None
    passages: list[PassageOut] = Field(default_factory=list)


class PointOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str
    citations: list[int]


class AnswerOut(BaseModel):
    """The contract JSON of an answer (CONTRACT.md, POST /ask)."""

    model_config = ConfigDict(extra="allow")
    question: str
    abstained: bool
    summary: str
    points: list[PointOut]
    references: list[ReferenceOut]
    related_questions: list[str] = Field(default_factory=list)
    disclaimer: str
    timings_ms: dict[str, float] = Field(default_factory=dict)


class HitOut(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    title: str
    page: int | None
    score: float
    text: str


class SearchResponse(BaseModel):
    hits: list[HitOut]


class DocumentOut(BaseModel):
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


class ChunkOut(BaseModel):
    chunk_id: str
    heading: str
    page: int | None
    text: str


class DocumentDetail(DocumentOut):
    chunks: list[ChunkOut]


class DocumentList(BaseModel):
    total: int
    offset: int
    documents: list[DocumentOut]


class UploadResponse(BaseModel):
    documents: list[DocumentOut]
    report: str = Field(..., description="the ingest summary line")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
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
