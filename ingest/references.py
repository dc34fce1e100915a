"""A document's own reference list: where it is, its entries (verbatim, with DOI/PMID), and who each cites.

No maintained offline library fits (see README, "Libraries we chose"): refextract splits one Vancouver
entry into several records, mis-reads authors and pins pypdf < 7; GROBID is a Java server and anystyle is
Ruby. The formats are regular enough for the regular expressions below, and an entry we cannot read is
simply never matched: citations resolve only to an entry they name unambiguously (ingest/citations.py).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.documents import Document

# The headings under which articles print their reference lists. The answer path has always treated every
# sentence under these as boilerplate (service/text.py), so ingest neither embeds nor stores them. The
# whole heading must be the phrase: "Sources of buttock pain" is not a reference list.
_HEADING_WORDS = r"(?:references?|bibliography|works cited|literature cited|sources|further reading)"
REFERENCE_HEADING = re.compile(rf"^\s*(?:\d+(?:\.\d+)*\.?\s+)?{_HEADING_WORDS}\s*:?\s*$", re.I)
# The same heading printed as a line of its own inside a section (a PDF without an outline, plain text)
_HEADING_LINE = re.compile(rf"^[ \t]*(?:\d+(?:\.\d+)*\.?[ \t]+)?{_HEADING_WORDS}[ \t]*:?[ \t]*$", re.I | re.M)

YEAR = r"(?:19|20)\d{2}[a-z]?"
# "1. ", "[1] ", "1) " at the start of a line: a numbered list's entry marker
_NUMBER_MARK = re.compile(r"^[ \t]*(?:\[(\d{1,4})\]|(\d{1,4})[.)])[ \t]+(?=\S)", re.M)
_BULLET = re.compile(r"^[ \t]*[-*\u2022][ \t]+(?=\S)", re.M)
_BLANK = re.compile(r"\n[ \t]*\n")
_WS = re.compile(r"\s+")
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
PMID = re.compile(r"\bPMID:?\s*(\d{1,9})\b")
_TRAILING = ".,;:)]}>'\""
# Surname particles written in lower case ("van der Heijde D", "de Vet HC").
PARTICLE = r"(?:(?:[Vv]an|[Vv]on|[Dd]er|[Dd]en|[Dd]e|[Dd]el|[Dd]a|[Dd]i|[Dd]u|[Ll]e|[Ll]a|[Dd]os)\s+)"
SURNAME = rf"{PARTICLE}*[A-Z\u00c0-\u00de][\w'\u2019\u00c0-\u017f-]*(?:\s+[A-Z\u00c0-\u00de][\w'\u2019\u00c0-\u017f-]*)?"
# Vancouver "Maher C, ..." / "Van Mieghem IM, ..." and APA "Maher, C. ..."
_VANCOUVER = re.compile(rf"^(?P<surname>{SURNAME})\s+[A-Z\u00c0-\u00de]{{1,4}}(?:-[A-Z])?(?:[,.]|\s+et al|$)")
_APA = re.compile(rf"^(?P<surname>{SURNAME}),\s+(?:[A-Z\u00c0-\u00de]\.[\s-]*)+")
# "National Institute for Health and Care Excellence (NICE). ..." / "World Health Organization. ..."
_ORGANISATION = re.compile(r"^(?P<name>[A-Z][^.()]*?)(?:\s+\((?P<abbreviation>[A-Z][A-Za-z&]*[A-Z])\))?\.\s")
# A new unnumbered entry on a wrapped line starts with an author or an organisation (then a full stop).
_ENTRY_START = re.compile(rf"^(?:{SURNAME}\s+[A-Z]{{1,4}}(?:-[A-Z])?[,.]|{SURNAME},\s+[A-Z]\.|[A-Z][^.()]*\([A-Z]+\)\.)")


@dataclass(frozen=True)
class ReferenceEntry:
    """One entry of a document's reference list, its text verbatim (whitespace runs collapsed)."""

    text: str
    number: int | None = None  # the printed number in a numbered list
    doi: str = ""
    pmid: str = ""
    names: tuple[str, ...] = ()  # first author's surname, or organisation and abbreviation, normalised
    year: str = ""  # publication year as printed ("2017", "2017a")


@dataclass(frozen=True)
class ReferenceList:
    """A document's entries; `numbered` when the list prints numbers (then "[3]" and "word3" can cite)."""

    entries: tuple[ReferenceEntry, ...] = ()
    numbered: bool = False


def is_reference_heading(heading: str) -> bool:
    """True for a section heading that introduces a reference list ("References", "5. Bibliography")."""
    return bool(REFERENCE_HEADING.match(heading or ""))


def normal_name(name: str) -> str:
    """A name as compared: accents dropped, case folded, spaces single ("Landewé" == "landewe")."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).replace("\u2019", "'")
    return _WS.sub(" ", plain).strip().casefold()


def reference_text(doc: Document) -> str:
    """The text of the document's reference list: its reference sections in order, else what follows a
    "References" line at the start of a line (a PDF without an outline, a plain-text file); "" if none."""
    parts = [doc.text[s.start:s.end] for s in doc.sections if is_reference_heading(s.heading)]
    if parts:
        return "\n".join(parts)
    lines = list(_HEADING_LINE.finditer(doc.text))
    return doc.text[lines[-1].end():] if lines else ""


def reference_list(doc: Document) -> ReferenceList:
    """The document's own reference list, parsed into entries (empty when it has none)."""
    text = reference_text(doc)
    if not text.strip():
        return ReferenceList()
    numbered = numbered_entries(text)
    if numbered:
        return ReferenceList(tuple(parse_entry(t, n) for n, t in numbered), numbered=True)
    return ReferenceList(tuple(parse_entry(t) for t in unnumbered_entries(text)))


def numbered_entries(text: str) -> list[tuple[int, str]]:
    """(number, text) of a list numbered 1, 2, 3, ... (an entry runs to the next marker); [] otherwise."""
    marks = list(_NUMBER_MARK.finditer(text))
    numbers = [int(m.group(1) or m.group(2)) for m in marks]
    if len(marks) < 2 or numbers != list(range(numbers[0], numbers[0] + len(numbers))) or numbers[0] != 1:
        return []
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [(n, _WS.sub(" ", text[m.end():end]).strip()) for n, m, end in zip(numbers, marks, ends)]


def unnumbered_entries(text: str) -> list[str]:
    """One entry per list item, else per paragraph, else per line; a wrapped line joins its entry."""
    if len(_BULLET.findall(text)) >= 1:
        bullets = list(_BULLET.finditer(text))
        ends = [m.start() for m in bullets[1:]] + [len(text)]
        return [_WS.sub(" ", text[m.end():end]).strip() for m, end in zip(bullets, ends)]
    paragraphs = [p for p in _BLANK.split(text) if p.strip()]
    if len(paragraphs) > 1:
        return [_WS.sub(" ", p).strip() for p in paragraphs]
    entries: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if entries and not (entries[-1].endswith(".") and _ENTRY_START.match(stripped)):
            entries[-1] += " " + stripped  # a wrapped line: the entry has not ended, or this is not a new one
        else:
            entries.append(stripped)
    return entries


def parse_entry(text: str, number: int | None = None) -> ReferenceEntry:
    """An entry's identifiers, first author (or organisation) and year."""
    doi = DOI.search(text)
    pmid = PMID.search(text)
    names, rest = entry_names(text)
    return ReferenceEntry(text, number, doi.group(1).rstrip(_TRAILING) if doi else "",
                          pmid.group(1) if pmid else "", names, entry_year(text[rest:]))


def entry_names(text: str) -> tuple[tuple[str, ...], int]:
    """The normalised names an entry answers to, and where its author part ends."""
    for pattern in (_VANCOUVER, _APA):
        m = pattern.match(text)
        if m:
            return (normal_name(m["surname"]),), m.end()
    m = _ORGANISATION.match(text)
    if m:
        names = [normal_name(m["name"])] + ([normal_name(m["abbreviation"])] if m["abbreviation"] else [])
        return tuple(names), m.end()
    return (), 0


def entry_year(text: str) -> str:
    """The publication year: the one printed as "2017;", "(2017)" or "2017." when there, else the first."""
    years = list(re.finditer(rf"(?<![\w/.-]){YEAR}(?![\w/-])", text))
    for m in years:
        before, after = text[max(0, m.start() - 1):m.start()], text[m.end():m.end() + 1]
        if after in (";", ")", ".", ",", ":") or before == "(":
            return m.group(0)
    return years[0].group(0) if years else ""
