"""PDF: text per page with pypdf, sections from the outline (bookmarks), guarded against hostile files."""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError

from ingest.assemble import TextBuilder
from ingest.documents import Document
from ingest.errors import ReadError
from ingest.metadata import MetaLayer, doc_id_for_path, filename_layer, merge_meta, read_sidecar

# pypdf reports every recoverable oddity as a warning; the outcome is reported per file instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# A hostile outline can hold millions of entries, far beyond any real table of contents; set with the
# hostile-file tests, not tuned.
MAX_OUTLINE_ENTRIES = 5000
# An outline "title" longer than this is not a heading we can look up on the page (a sentence or junk).
MAX_HEADING_WORDS = 40
_JUNK_TITLE_PREFIXES = ("microsoft word - ", "microsoft powerpoint - ", "untitled")
_JUNK_TITLE_SUFFIXES = (".doc", ".docx", ".pdf", ".tex", ".dvi", ".indd", ".rtf")


def _why(exc: BaseException) -> str:
    """The reason behind a pypdf error, looking through its chain for a recursion overflow."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RecursionError):
            return "structure too deeply nested"
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(exc).split()) or type(exc).__name__


def _open(data: bytes) -> PdfReader:
    """A PdfReader for bytes that claim to be a PDF, decrypted if no password is needed."""
    if b"%PDF-" not in data[:1024]:
        raise ReadError("not a PDF (no %PDF- header in the first 1 KB)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except LimitReachedError as exc:
        raise ReadError(f"decompression limit reached: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReadError(f"damaged PDF: {_why(exc)}") from exc
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise ReadError("encrypted PDF (needs a password)")
        except (FileNotDecryptedError, NotImplementedError) as exc:
            raise ReadError("encrypted PDF (needs a password)") from exc
        except DependencyError as exc:
            raise ReadError(f"encrypted PDF ({exc})") from exc
    return reader


def _page_count(reader: PdfReader) -> int:
    """The page count the document declares, read without walking the page tree."""
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]
        return int(count)
    except Exception:  # noqa: BLE001 - a broken tree is found out when the pages are read
        return -1


def _info_layer(reader: PdfReader) -> MetaLayer:
    """Title, author and subject-free metadata from the PDF's info dictionary."""
    try:
        info = reader.metadata or {}
        raw = {k: info.get(k) for k in ("/Title", "/Author", "/doi", "/DOI")}
    except Exception:  # noqa: BLE001 - a broken info dict only loses metadata
        return MetaLayer()
    values: dict[str, object] = {}
    title = " ".join(str(raw["/Title"] or "").split())
    if title and not title.lower().startswith(_JUNK_TITLE_PREFIXES) and not title.lower().endswith(
            _JUNK_TITLE_SUFFIXES):
        values["title"] = title
    if raw["/Author"]:
        values["authors"] = str(raw["/Author"])
    if raw["/doi"] or raw["/DOI"]:
        values["doi"] = str(raw["/doi"] or raw["/DOI"])
    # /CreationDate is when the file was made, not when the work was published: not a year.
    return MetaLayer(values)


def _page_texts(reader: PdfReader, max_pages: int) -> tuple[list[str], list[str]]:
    """The extracted text of every page in order, and problems met on pages without text."""
    declared = _page_count(reader)
    if declared > max_pages:
        raise ReadError(f"too many pages ({declared} > {max_pages})")
    try:
        pages = reader.pages
        n = len(pages)
    except LimitReachedError as exc:
        raise ReadError(f"decompression limit reached: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReadError(f"damaged PDF page tree: {_why(exc)}") from exc
    if n > max_pages:
        raise ReadError(f"too many pages ({n} > {max_pages})")
    if n == 0:
        raise ReadError("PDF has no pages")
    texts, problems = [], []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except LimitReachedError as exc:
            raise ReadError(f"decompression limit reached on page {number}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - one unreadable page should not lose the others
            text = ""
            problems.append(f"page {number}: {_why(exc)}")
        if not text.strip():
            problems.extend(_content_problem(page, number))
        texts.append(text)
    return texts, problems


def _content_problem(page, number: int) -> list[str]:
    """Why a page gave no text, when the reason is its content stream (extract_text hides it)."""
    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    except LimitReachedError as exc:
        raise ReadError(f"decompression limit reached on page {number}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - only used to explain an empty page
        return [f"page {number}: {_why(exc)}"]
    return []


def _outline(reader: PdfReader, n_pages: int) -> list[tuple[int, str]]:
    """(0-based page, title) of the outline's entries in page order; [] when there is none or it is broken.

    Walked with an explicit stack, so a deeply nested outline cannot overflow the interpreter's.
    """
    entries: list[tuple[int, str]] = []
    try:
        stack = [iter(reader.outline)]
        while stack and len(entries) < MAX_OUTLINE_ENTRIES:
            item = next(stack[-1], _END)
            if item is _END:
                stack.pop()
            elif isinstance(item, list):
                stack.append(iter(item))
            else:
                page, title = reader.get_destination_page_number(item), " ".join(str(item.title or "").split())
                if title and 0 <= page < n_pages:
                    entries.append((page, title))
    except Exception:  # noqa: BLE001 - a broken outline only loses the headings
        return []
    return sorted(entries, key=lambda e: e[0])  # stable: reading order within a page stays


_END = object()


def _heading_span(text: str, title: str, pos: int) -> tuple[int, int] | None:
    """Where the title is printed in a page's text at or after pos (line breaks may split it), or None."""
    words = title.split()
    if not words or len(words) > MAX_HEADING_WORDS:
        return None
    # a printed heading may carry its section number ("2.1 Methods") where the outline has none
    m = re.search(r"(?:\b\d+(?:\.\d+)*\.?\s+)?" + r"\s+".join(map(re.escape, words)), text[pos:], re.IGNORECASE)
    return (pos + m.start(), pos + m.end()) if m else None


def _sections(texts: list[str], outline: list[tuple[int, str]]) -> list[tuple[str, str, int]]:
    """(heading, body, 1-based page) of every page part: a page is cut where an outline title is printed.

    Text before a page's first heading continues the section of the previous page. A title that cannot be
    found in the text starts its section where the previous one ended (the top of the page, for the first).
    """
    titles: dict[int, list[str]] = {}
    for page, title in outline:
        titles.setdefault(page, []).append(title)
    out, heading = [], ""
    for index, text in enumerate(texts):
        cuts, pos = [], 0
        for title in titles.get(index, []):
            start, end = _heading_span(text, title, pos) or (pos, pos)
            cuts.append((start, end, title))
            pos = end
        out.append((heading, text[:cuts[0][0]] if cuts else text, index + 1))
        for i, (_, end, title) in enumerate(cuts):
            heading = title
            stop = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
            out.append((heading, text[end:stop], index + 1))
    return out


def read_pdf(path: Path, data: bytes, source_hash: str, max_pages: int = 2000) -> list[Document]:
    """One Document; its sections are the outline's (each split at page ends), else one per page."""
    reader = _open(data)
    texts, problems = _page_texts(reader, max_pages)
    builder = TextBuilder()
    for heading, body, page in _sections(texts, _outline(reader, len(texts))):
        builder.add_section(heading, body.strip(), page=page)
    if not builder.sections:
        why = f"; {problems[0]}" if problems else "; scanned images need OCR"
        raise ReadError(f"no extractable text in {len(texts)} page(s){why}")
    meta = merge_meta([read_sidecar(path), _info_layer(reader), filename_layer(path)])
    return [Document(doc_id=doc_id_for_path(path), source=str(path), text=builder.text, meta=meta,
                     sections=tuple(builder.sections), content_hash=source_hash)]
