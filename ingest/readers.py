"""Files -> Documents: find supported files, read each with the right reader, report what failed.

`read_file` reads in this process. Untrusted formats whose parsers can hang or exhaust memory (PDF,
HTML) go through `ingest.batch.read_many`/`read_file_isolated`, which use a killable worker process
(ingest/worker.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ingest.beir_corpus import read_beir_corpus
from ingest.documents import Document, content_hash
from ingest.errors import ReadError
from ingest.html import read_html
from ingest.medquad import read_medquad
from ingest.pdf import read_pdf
from ingest.textfiles import decode_text, read_text_file

__all__ = ["SUPPORTED_SUFFIXES", "ISOLATED_SUFFIXES", "ReadError", "ReadResult", "discover", "read_file",
           "failure_reason", "read_file_guarded", "refuse_oversized", "change_key"]

SUPPORTED_SUFFIXES = (".pdf", ".html", ".htm", ".md", ".markdown", ".txt", ".xml", ".jsonl")
# Raised when a reader starts producing different documents from the same bytes, so that the next
# incremental ingest re-reads those files instead of keeping what the old reader made of them.
# .pdf 2: sections follow the outline (bookmarks) instead of one per page.
# .html 1: <ol> items of a reference list carry their printed number, so numeric citations resolve
READER_REVISIONS = {".pdf": 2, ".html": 1, ".htm": 1}
# Formats whose parsers have hung or blown up on hostile input; the rest parse in-process, fast.
ISOLATED_SUFFIXES = (".pdf", ".html", ".htm")
# Largest file read at all (checked by size before any byte is read): 4x the largest input we ingest
# (../shared/data/medquad-dev/corpus.jsonl, 24 MB; the largest PDF there is 2.2 MB), small enough that
# reading one never threatens the process.
MAX_BYTES = 100 * 1024 * 1024
# Most pages a PDF may declare (its page tree's /Count), checked before walking the tree: a generous
# ceiling for a book, set with the hostile-file tests (a forged /Count of millions must be refused).
MAX_PAGES = 2000


class ReadResult(list):
    """The Documents read from one file (it *is* that list) plus `errors`: (location, reason) of
    records that were skipped while the rest of the file was read (bad lines of a corpus.jsonl)."""

    def __init__(self, documents: Iterable[Document] = (), errors: Iterable[tuple[str, str]] = ()):
        super().__init__(documents)
        self.errors: list[tuple[str, str]] = list(errors)


def change_key(path: Path, digest: str) -> str:
    """What an incremental ingest compares to decide a file is unchanged: its content hash and reader revision."""
    revision = READER_REVISIONS.get(path.suffix.lower())
    return f"{digest}+r{revision}" if revision else digest


def _is_candidate(path: Path) -> bool:
    """A file a directory walk should read: supported suffix, not hidden, not a sidecar."""
    name = path.name
    if name.startswith(".") or name.endswith(".meta.json"):
        return False
    if path.suffix.lower() == ".jsonl":
        # queries.jsonl and friends sit next to a BEIR corpus; only the corpus holds documents.
        return name.lower().endswith("corpus.jsonl")
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def discover(paths: Iterable[str | Path], skipped: list[Path] | None = None) -> list[Path]:
    """Supported files under paths, recursive and sorted; a file named explicitly is always kept.

    Files a walk passes over are appended to `skipped` when a list is given, so a caller can say so.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in path.rglob("*"):
                if any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                if child.is_file():
                    if _is_candidate(child):
                        found.add(child)
                    elif skipped is not None and not child.name.endswith(".meta.json"):
                        skipped.append(child)
        else:
            found.add(path)  # a missing or unsupported file is then reported by read_file
    return sorted(found)


def read_file(path: str | Path, max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES) -> ReadResult:
    """Documents of one file, in this process; raises ReadError(reason) when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReadError(f"unsupported file type {suffix or '(no suffix)'!r}")
    data = _read_bytes(path, max_bytes)
    source_hash = content_hash(data)
    if suffix == ".pdf":
        return ReadResult(read_pdf(path, data, source_hash, max_pages=max_pages))
    if suffix in (".html", ".htm"):
        return ReadResult(read_html(path, data, source_hash))
    if suffix == ".xml":
        return ReadResult(read_medquad(path, data, source_hash))
    if suffix == ".jsonl":
        return ReadResult(*read_beir_corpus(path, decode_text(data)))
    return ReadResult(read_text_file(path, data, source_hash, markdown=suffix in (".md", ".markdown")))


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, after refusing missing, empty and oversized files by their size alone."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ReadError("file not found") from exc
    except OSError as exc:
        raise ReadError(f"cannot stat file: {exc.strerror}") from exc
    if size == 0:
        raise ReadError("empty file (0 bytes)")
    refuse_oversized(size, max_bytes)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror}") from exc


def refuse_oversized(size: int, max_bytes: int = MAX_BYTES) -> None:
    """Raise ReadError when a file of `size` bytes is over the limit."""
    if size > max_bytes:
        raise ReadError(f"file too large ({size / 2**20:.1f} MB > {max_bytes / 2**20:.0f} MB limit)")


def read_file_guarded(path: str | Path, max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES) -> ReadResult:
    """read_file, with every other failure turned into a ReadError so one file never ends a run."""
    try:
        return read_file(path, max_bytes=max_bytes, max_pages=max_pages)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not stop the others
        raise ReadError(failure_reason(exc)) from exc


def failure_reason(exc: BaseException) -> str:
    """One readable line for an exception a reader did not anticipate."""
    if isinstance(exc, ReadError):
        return exc.reason
    if isinstance(exc, RecursionError):
        return "structure too deeply nested"
    if isinstance(exc, MemoryError):
        return "out of memory while parsing"
    return f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
