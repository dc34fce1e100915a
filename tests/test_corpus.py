"""The default corpus is honest: typed for what it is, and every in-text citation resolves to its own list.

Each article in corpus/ (Markdown, and the PDFs through their sources in scripts/pdf-src/) must cite only
works in its own References section, each in-text citation must match exactly one entry (first author's
surname or the organisation, plus year), and every entry must be cited. The PDFs must be rebuilt from
their sources (scripts/make_corpus_pdfs.py) whenever a source changes.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.readers import read_file
from ingest.textfiles import split_front_matter

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
PDF_SOURCES = ROOT / "scripts" / "pdf-src"
ARTICLE_SOURCES = sorted(CORPUS.glob("*.md")) + sorted(PDF_SOURCES.glob("*.md"))
ALLOWED_TYPES = {"review", "patient information"}  # our own writing is never a guideline or research

YEAR = r"(?:19|20)\d{2}"
NAME = r"(?:(?:[Vv]an der|[Vv]an|[Dd]e) )?[A-Z][\w'\u00c0-\u017f-]*"
# "(Maher 2017)", "(Fortin 1994; Cohen 2005)", "(Cohen and Raja 2007)", "(NICE 2016)"
PARENTHETICAL = re.compile(rf"\(([A-Za-z][^()]*?\b{YEAR}(?:; [^()]*?\b{YEAR})*)\)")
PARENTHETICAL_PART = re.compile(rf"^(?P<name>{NAME})(?: and [A-Z][\w-]*| et al\.)? (?P<year>{YEAR})$")
# "Deyo and Weinstein (2001)", "Schwarzer and colleagues (1995)", "Schwarzer, Aprill and Bogduk (1995)"
NARRATIVE = re.compile(rf"(?P<name>{NAME})(?:(?:, [A-Z][\w-]*)* and (?:colleagues|[A-Z][\w-]*))? \((?P<year>{YEAR})\)")
ENTRY_AUTHOR = re.compile(r"^(?P<surname>.+?) [A-Z]{1,4}(?:-[A-Z])?[,.]")
ENTRY_ORGANISATION = re.compile(r"^(?P<organisation>[^.(]+?) \((?P<abbreviation>[A-Z]+)\)\.")


def article_parts(path: Path) -> tuple[dict, str, list[str]]:
    """(front matter, body text before the References heading, reference entries) of a Markdown source."""
    meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    text, _, references = body.partition("\n## References\n")
    entries = [line[2:].strip() for line in references.splitlines() if line.startswith("- ")]
    return meta, text, entries


def in_text_citations(text: str) -> list[tuple[str, int]]:
    """Every author-year citation in the text as (first author or organisation, year)."""
    found = []
    for group in PARENTHETICAL.finditer(text):
        for part in group.group(1).split("; "):
            m = PARENTHETICAL_PART.match(part.strip())
            assert m, f"unparsed parenthetical citation {part!r}"
            found.append((m["name"], int(m["year"])))
    for m in NARRATIVE.finditer(text):
        found.append((m["name"], int(m["year"])))
    return found


def entry_keys(entry: str) -> set[tuple[str, int]]:
    """The (name, year) keys an entry answers to: first author's surname, or organisation and its abbreviation."""
    year = int(re.search(rf"\b{YEAR}\b", entry).group(0))
    org = ENTRY_ORGANISATION.match(entry)
    if org:
        return {(org["organisation"].lower(), year), (org["abbreviation"].lower(), year)}
    return {(ENTRY_AUTHOR.match(entry)["surname"].lower(), year)}


@pytest.mark.parametrize("path", ARTICLE_SOURCES, ids=lambda p: p.name)
def test_every_citation_resolves_to_exactly_one_entry_and_every_entry_is_cited(path):
    _, text, entries = article_parts(path)
    keys = [entry_keys(e) for e in entries]
    cited = in_text_citations(text)
    assert cited, "an article without citations"
    for name, year in cited:
        matches = [e for e, k in zip(entries, keys) if (name.lower(), year) in k]
        assert len(matches) == 1, f"{name} {year} matches {len(matches)} entries"
    cited_keys = {(n.lower(), y) for n, y in cited}
    uncited = [e for e, k in zip(entries, keys) if not k & cited_keys]
    assert uncited == []


@pytest.mark.parametrize("path", ARTICLE_SOURCES, ids=lambda p: p.name)
def test_sources_are_typed_review_or_patient_information(path):
    meta, _, _ = article_parts(path)
    assert meta["type"] in ALLOWED_TYPES


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.md")) + sorted(CORPUS.glob("*.pdf")), ids=lambda p: p.name)
def test_ingested_articles_are_typed_review_or_patient_information(path):
    (doc,) = read_file(path)  # PDFs take their type from the .meta.json sidecar
    assert doc.meta.type in ALLOWED_TYPES


@pytest.mark.parametrize("source", sorted(PDF_SOURCES.glob("*.md")), ids=lambda p: p.name)
def test_pdfs_are_built_from_their_current_sources(source):
    """Every paragraph and reference of the source is in the PDF's text (rebuild with make_corpus_pdfs.py)."""
    (doc,) = read_file(CORPUS / (source.stem + ".pdf"))
    pdf_words = " ".join(doc.text.split())
    _, text, entries = article_parts(source)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.lstrip().startswith("#")]
    for block in paragraphs + entries:
        assert " ".join(block.split()) in pdf_words
