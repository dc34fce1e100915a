"""Renderings of an Answer at the edge: the contract JSON (via service/schemas.py), Markdown and terminal text.

Citation markers come only from the number lists (`summary_citations`, `points[].citations`); text from the
sources is always text: the Markdown rendering escapes it, so "[2, 3]" or "G1P[8]" in a quoted sentence can
never become a marker or a link.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from urllib.parse import quote

from ingest.documents import CitedWork
from service.answer_types import Answer, Point, Reference

UNCOVERED_LEAD = "The indexed sources do not address: "
DOI_URL = "https://doi.org/"
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"
MAX_AUTHORS = 6  # Vancouver style lists six authors, then "et al"
TEXT_WIDTH = 100  # terminal columns the text rendering wraps to

# CommonMark: any ASCII punctuation may be backslash-escaped; these are the ones that start markup inline
# (emphasis, code, links and images, raw HTML and entities, GFM tables and strikethrough).
_MD_INLINE = re.compile(r"([\\`*_{}\[\]<>()#!|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")  # a list, heading underline or quote at line start


# --- shared pieces ------------------------------------------------------------------------


def markers(numbers: Iterable[int]) -> str:
    """Citation markers from a number list: "[1]" or "[1, 3]"; "" for none."""
    numbers = list(numbers)
    return "[" + ", ".join(str(n) for n in numbers) + "]" if numbers else ""


def uncovered_line(a: Answer) -> str:
    """ "The indexed sources do not address: yoga, tai chi." or "" when everything asked is covered."""
    return UNCOVERED_LEAD + ", ".join(a.uncovered) + "." if a.uncovered else ""


def sections(points: Iterable[Point]) -> list[tuple[str | None, list[Point]]]:
    """Consecutive points with the same section, as (heading, points) groups in answer order."""
    out: list[tuple[str | None, list[Point]]] = []
    for p in points:
        if out and out[-1][0] == p.section:
            out[-1][1].append(p)
        else:
            out.append((p.section, [p]))
    return out


def pages_text(r: Reference) -> str:
    """ "p. 3" or "pp. 3, 4"; "" without pages."""
    pages = r.pages or ((r.page,) if r.page is not None else ())
    if not pages:
        return ""
    return ("p. " if len(pages) == 1 else "pp. ") + ", ".join(str(p) for p in pages)


def doi_link(doi: str) -> str:
    """The doi.org URL of a DOI, percent-encoded so that no character of it is markup."""
    return DOI_URL + quote(doi.strip(), safe="/")


def pubmed_link(pmid: str) -> str:
    """The PubMed URL of a PMID (digits only), or "" for anything else."""
    pmid = pmid.strip()
    return f"{PUBMED_URL}{pmid}/" if pmid.isdigit() else ""


def web_link(url: str) -> str:
    """An http(s) URL with the characters that could end a link percent-encoded; "" for other schemes."""
    url = url.strip()
    if not re.match(r"https?://", url, re.I):
        return ""
    return re.sub(r"[\s<>\"`]", lambda m: quote(m.group(0)), url)


def reference_link(r: Reference) -> str:
    """Where a reference can be read: its URL, else its DOI; "" when it has neither."""
    return web_link(r.url) or (doi_link(r.doi) if r.doi else "")


def format_reference(r: Reference, with_link: bool = True) -> str:
    """One reference line: authors. Title. Journal, year. Type. Pages. Link (when asked for and known)."""
    parts = []
    if r.authors:
        parts.append(", ".join(r.authors[:MAX_AUTHORS]) + (", et al" if len(r.authors) > MAX_AUTHORS else ""))
    parts.append(r.title or r.doc_id)
    venue = ", ".join(x for x in (r.journal, str(r.year) if r.year else "") if x)
    if venue:
        parts.append(venue)
    if r.type:
        parts.append(r.type[:1].upper() + r.type[1:])
    if pages_text(r):
        parts.append(pages_text(r))
    if with_link and reference_link(r):
        parts.append(reference_link(r))
    return ". ".join(p.rstrip(".") for p in parts) + "."


def work_links(w: CitedWork) -> list[str]:
    """The DOI and PubMed links of a cited work (those it has)."""
    return [link for link in (doi_link(w.doi) if w.doi else "", pubmed_link(w.pmid) if w.pmid else "") if link]


def list_title(a: Answer) -> str:
    """An abstention lists the nearest sources, which state nothing; an answer lists its references."""
    return "Nearest sources" if a.abstained else "References"


# --- Markdown -----------------------------------------------------------------------------


def md_escape(text: str) -> str:
    """Source text as Markdown that renders as exactly that text (no links, markers, emphasis or HTML)."""
    return _MD_LINE_START.sub(r"\1\\\2", _MD_INLINE.sub(r"\\\1", text))


def answer_to_markdown(a: Answer) -> str:
    """The answer as Markdown: summary, uncovered terms, sectioned points, references, related questions."""
    lines = [f"**{md_escape(a.summary)}** {markers(a.summary_citations)}".rstrip(), ""]
    if a.uncovered:
        lines += [md_escape(uncovered_line(a)), ""]
    for heading, points in sections(a.points):
        if heading:
            lines += ["", f"### {md_escape(heading)}", ""]
        lines += [f"- {md_escape(p.text)} {markers(p.citations)}" for p in points]
    if a.references:
        lines += ["", f"### {list_title(a)}", ""]
        for r in a.references:
            link = reference_link(r)
            lines.append(f"{r.number}. {md_escape(format_reference(r, with_link=False))}" + (f" <{link}>" if link else ""))
            lines += [f"    - Cites: {md_escape(w.text)}" + "".join(f" <{link}>" for link in work_links(w))
                      for w in r.cited_works]
    if a.related_questions:
        lines += ["", "### Related questions", ""] + [f"- {md_escape(q)}" for q in a.related_questions]
    lines += ["", "---", "", f"*{md_escape(a.disclaimer)}*", ""]
    return "\n".join(_squeeze(lines))


# --- terminal text ------------------------------------------------------------------------


def answer_to_text(a: Answer, width: int = TEXT_WIDTH) -> str:
    """The answer for a terminal: summary, uncovered terms, sectioned points, references, related, disclaimer."""

    def wrap(text: str, first: str = "", rest: str = "") -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest) or [first]

    lines = wrap(f"{a.summary} {markers(a.summary_citations)}".rstrip()) + [""]
    if a.uncovered:
        lines += wrap(uncovered_line(a)) + [""]
    for heading, points in sections(a.points):
        if heading:
            lines += ["", heading]
        for p in points:
            lines += wrap(f"{p.text} {markers(p.citations)}", "  * ", "    ")
    if a.references:
        lines += ["", list_title(a) + ":"]
        for r in a.references:
            lines += wrap(format_reference(r), f"  [{r.number}] ", "      ")
            for w in r.cited_works:
                lines += wrap(" ".join(["Cites:", w.text, *work_links(w)]), "      - ", "        ")
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


# --- JSON ---------------------------------------------------------------------------------


def answer_to_dict(a: Answer) -> dict:
    """The answer as the contract's JSON (the same conversion the HTTP API uses)."""
    from service.schemas import AnswerOut

    return AnswerOut.from_answer(a).model_dump(mode="json")
