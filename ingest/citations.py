"""In-text citations of a sentence, resolved to entries of its document's own reference list.

Author-year: "(Maher 2017)", "(Maher et al. 2017)", "(Fortin 1994; Cohen 2005)", "(Cohen and Raja 2007)",
"(NICE 2016)", "Deyo and Weinstein (2001)", "Schwarzer and colleagues (1995)". Numeric, only when the list is
numbered: "[12]", "[3-5]", "[2, 3]" and superscript-style "pain12,13". A citation resolves only when exactly
one entry matches (first author's surname or organisation + year; the entry number): anything ambiguous or
unmatched is left out, never guessed.
"""
from __future__ import annotations

import re

from ingest.documents import CitedWork
from ingest.references import PARTICLE, YEAR, ReferenceEntry, ReferenceList, normal_name

# A name as cited: one word after any particles ("Maher", "van der Heijde"), or an organisation's
# abbreviation ("NICE"). One word, so "In Maher (2017)" is Maher's and not a surname "In Maher".
_NAME = rf"{PARTICLE}*[A-Z\u00c0-\u00de][\w'\u2019\u00c0-\u017f-]*"
_AUTHORS = (rf"(?P<first>{_NAME})(?:(?:,\s+{_NAME})*,?\s+(?:and|&)\s+(?:colleagues|co-workers|{_NAME})"
            r"|\s+et\s+al\.?)?")
_PARENTHESES = re.compile(rf"\(([^()]*?{YEAR})\)")
_PART = re.compile(rf"^(?:(?:see(?:\s+also)?|e\.g\.|cf\.|i\.e\.)\s*,?\s+)?{_AUTHORS},?\s+(?P<year>{YEAR})$")
_NARRATIVE = re.compile(rf"(?<![\w(])(?P<cited>{_AUTHORS}\s+\((?P<year>{YEAR})\))")
_NUMBERS = r"\d{1,4}(?:\s*[-\u2013]\s*\d{1,4})?(?:\s*,\s*\d{1,4}(?:\s*[-\u2013]\s*\d{1,4})?)*"
_BRACKETS = re.compile(rf"\[(?P<numbers>{_NUMBERS})\]")
# "pain12,13" / "pain.12" after a word of three or more letters (lower case after the first), then a space,
# a full stop or the end
_SUPERSCRIPT = re.compile(r"\b[A-Za-z][a-z]{2,}[.,]?(?P<numbers>\d{1,4}(?:[,\u2013-]\d{1,4})*)(?=\.?(?:[\s;:)]|$))")
MAX_RANGE = 50  # "[1-200]" is not a citation range anyone prints; a longer span is read as no citation


def resolve_citations(sentence: str, refs: ReferenceList) -> tuple[CitedWork, ...]:
    """The entries a sentence cites, each once, in the order first cited; () when there is no list.

    Markers have their whitespace collapsed (a PDF line break inside "[2,\n3]" reads as "[2, 3]")."""
    if not refs.entries:
        return ()
    found: list[tuple[int, str, ReferenceEntry]] = []
    found.extend(author_year(sentence, refs))
    if refs.numbered:
        found.extend(numeric(sentence, refs))
    out: dict[str, CitedWork] = {}
    for _, marker, entry in sorted(found, key=lambda f: f[0]):
        if entry.text not in out:
            out[entry.text] = CitedWork(" ".join(marker.split()), entry.text, entry.doi, entry.pmid)
    return tuple(out.values())


def author_year(sentence: str, refs: ReferenceList) -> list[tuple[int, str, ReferenceEntry]]:
    """(position, marker, entry) of every parenthetical and narrative author-year citation that resolves."""
    found = []
    if "(" not in sentence:
        return found
    for group in _PARENTHESES.finditer(sentence):
        offset = group.start(1)
        for part in group.group(1).split(";"):
            m = _PART.match(part.strip())
            entry = m and match_author_year(refs, m["first"], m["year"])
            if entry:
                found.append((offset, part.strip(), entry))
            offset += len(part) + 1
    for m in _NARRATIVE.finditer(sentence):
        entry = match_author_year(refs, m["first"], m["year"])
        if entry:
            found.append((m.start(), m["cited"], entry))
    return found


def match_author_year(refs: ReferenceList, name: str, year: str) -> ReferenceEntry | None:
    """The one entry whose first author or organisation is name and whose year is year, else None."""
    wanted = normal_name(name)
    hits = [e for e in refs.entries if wanted in e.names and e.year == year]
    return hits[0] if len(hits) == 1 else None


def numeric(sentence: str, refs: ReferenceList) -> list[tuple[int, str, ReferenceEntry]]:
    """(position, marker, entry) of "[3]", "[3-5]", "[2, 3]" and "word12,13" citations of a numbered list."""
    found = []
    if "[" in sentence:
        for m in _BRACKETS.finditer(sentence):
            if not glued_to_a_code(sentence, m.start()):
                found.extend((m.start(), m.group(0), e) for e in numbered(refs, m["numbers"]))
    for m in _SUPERSCRIPT.finditer(sentence):
        found.extend((m.start("numbers"), m["numbers"], e) for e in numbered(refs, m["numbers"]))
    return found


def glued_to_a_code(sentence: str, bracket: int) -> bool:
    """True when "[" continues a token with a digit or only capitals ("G1P[8]", "P[4]"): a code, not a citation."""
    token = re.search(r"\S*$", sentence[:bracket]).group(0)
    return bool(token) and (any(ch.isdigit() for ch in token) or token.isupper())


def numbered(refs: ReferenceList, numbers: str) -> list[ReferenceEntry]:
    """The entries numbered in "3-5, 7"; [] when any number or range is not in the list."""
    by_number: dict[int, list[ReferenceEntry]] = {}
    for e in refs.entries:
        by_number.setdefault(e.number, []).append(e)
    wanted: list[int] = []
    for piece in re.split(r"\s*,\s*", numbers.strip()):
        bounds = [int(x) for x in re.split(r"\s*[-\u2013]\s*", piece)]
        if len(bounds) == 2 and not 0 < bounds[1] - bounds[0] <= MAX_RANGE:
            return []
        wanted.extend(range(bounds[0], bounds[-1] + 1))
    if any(len(by_number.get(n, ())) != 1 for n in wanted):
        return []
    return [by_number[n][0] for n in wanted]
