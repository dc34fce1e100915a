"""The dataclasses that travel from ingest to the index: Document, Section, Chunk."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

DOC_TYPES = ("guideline", "systematic review", "research", "review", "patient information", "other")


@dataclass(frozen=True)
class DocMeta:
    """Bibliographic metadata; unknown values stay empty, never guessed."""

    title: str = ""
    authors: tuple[str, ...] = ()
    type: str = ""  # one of DOC_TYPES, or "" when unknown
    journal: str = ""  # journal or publisher
    year: int | None = None
    url: str = ""
    doi: str = ""


@dataclass(frozen=True)
class Section:
    """A span of the document text under one heading (and on one page for PDFs).

    Chunks never cross a section boundary. `start`/`end` index `Document.text`
    and cover the body only; the heading is kept separately.
    """

    heading: str
    start: int
    end: int
    page: int | None = None


@dataclass(frozen=True)
class CitedWork:
    """One entry of a document's own reference list, copied verbatim, and how the text cites it."""

    marker: str  # the in-text form that resolved to it, e.g. "Maher 2017" or "12"
    text: str  # the reference-list entry exactly as the document prints it
    doi: str = ""
    pmid: str = ""


@dataclass(frozen=True)
class Document:
    """One source article as extracted text plus where every part of it came from."""

    doc_id: str
    source: str  # the file path or URL it was ingested from
    text: str
    meta: DocMeta
    sections: tuple[Section, ...]
    content_hash: str  # hash of the source bytes, for incremental ingest


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: `document.text[start:end] == text`."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    heading: str = ""
    page: int | None = None
    content_hash: str = ""


def content_hash(data: bytes | str) -> str:
    """Stable short hash used for files and chunk texts."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class IngestReport:
    """Counts and failures of one ingest run, printed at its end."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # (path, doc id, source of the document already holding it): files refused rather than replace it
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary_line(self) -> str:
        """One line with every count and the throughput."""
        rate = self.chunks / self.seconds if self.seconds > 0 else 0.0
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"removed {self.removed}, failed {len(self.failed)}; "
            f"{self.chunks} chunks in {self.seconds:.1f} s ({rate:.0f} chunks/s)"
        )
