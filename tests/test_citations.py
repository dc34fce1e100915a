"""Reference lists and in-text citations resolved at ingest: every form, exact entries, nothing guessed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.pipeline import ingest_paths
from index.embedder import FakeEmbedder
from index.store import Index
from ingest.citations import resolve_citations
from ingest.documents import CitedWork
from ingest.readers import read_file
from ingest.references import reference_list
from tests.citation_docs import (AUTHOR_YEAR_ENTRIES, AUTHOR_YEAR_EXPECTED, AUTHOR_YEAR_MD, MAHER, NUMBERED_BODY,
                                 NUMBERED_ENTRIES, NUMBERED_EXPECTED, numbered_markdown, numbered_pdf)

EMB = FakeEmbedder()
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
MAHER_DOI = "10.1016/S0140-6736(16)30970-9"


def stored_cites(index_dir: Path) -> dict[str, tuple[CitedWork, ...]]:
    """sentence text -> the citations stored with it, over every chunk of the index."""
    index = Index.open(index_dir, EMB)
    out = {}
    for doc in index.documents():
        chunks = index.chunks_of(doc.doc_id)
        records = index.sentences([c.chunk_id for c in chunks])
        for c in chunks:
            for r in records[c.chunk_id]:
                out[" ".join(c.text[r.start:r.end].split())] = r.cites
    return out


def cited(pairs, doi_of=None) -> tuple[CitedWork, ...]:
    """CitedWorks for (marker, entry text) pairs, with the DOI the entry carries."""
    return tuple(CitedWork(m, e, MAHER_DOI if e.startswith("Maher") else "") for m, e in pairs)


def test_author_year_forms_resolve_exactly_and_ambiguity_resolves_to_nothing(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "buttock.md").write_text(AUTHOR_YEAR_MD)
    doc = read_file(tmp_path / "docs" / "buttock.md")[0]
    refs = reference_list(doc)
    assert [e.text for e in refs.entries] == AUTHOR_YEAR_ENTRIES and not refs.numbered
    assert refs.entries[0].doi == MAHER_DOI and refs.entries[6].names == (
        "national institute for health and care excellence", "nice")
    for sentence, expected in AUTHOR_YEAR_EXPECTED.items():
        assert resolve_citations(sentence, refs) == cited(expected), sentence
    ingest_paths([tmp_path / "docs"], tmp_path / "idx", EMB, progress=False)
    stored = stored_cites(tmp_path / "idx")
    for sentence, expected in AUTHOR_YEAR_EXPECTED.items():
        assert stored[sentence] == cited(expected), sentence
    index = Index.open(tmp_path / "idx", EMB)
    works = index.cited_works(index.documents()[0].doc_id)
    assert [w.text for w in works] == AUTHOR_YEAR_ENTRIES and works[0] == CitedWork("", MAHER, MAHER_DOI)


@pytest.mark.parametrize("style", ["dot", "bracket", "paren"])
def test_numeric_forms_resolve_only_to_a_numbered_list(tmp_path, style):
    path = tmp_path / "sij.md"
    path.write_text(numbered_markdown(style))
    refs = reference_list(read_file(path)[0])
    assert refs.numbered and [e.text for e in refs.entries] == NUMBERED_ENTRIES
    assert [e.number for e in refs.entries] == list(range(1, 9))
    for sentence, expected in NUMBERED_EXPECTED.items():
        want = tuple(CitedWork(m, NUMBERED_ENTRIES[n - 1], MAHER_DOI if n == 5 else "") for m, n in expected)
        assert resolve_citations(sentence, refs) == want, sentence


def test_the_same_numbers_cite_nothing_without_a_numbered_list(tmp_path):
    path = tmp_path / "sij.md"
    path.write_text(numbered_markdown("dot").replace("## References\n\n", "## References\n\n- ").replace("\n1. ", "\n- "))
    refs = reference_list(read_file(path)[0])
    assert not refs.numbered
    assert all(resolve_citations(s, refs) == () for s in NUMBERED_BODY)


def test_a_pdf_with_a_numbered_list_resolves_bracketed_and_superscript_numbers(tmp_path):
    (tmp_path / "docs").mkdir()
    pdf = numbered_pdf(tmp_path / "docs" / "sij.pdf")
    refs = reference_list(read_file(pdf)[0])
    assert refs.numbered and [e.text for e in refs.entries] == NUMBERED_ENTRIES  # wrapped lines joined
    ingest_paths([tmp_path / "docs"], tmp_path / "idx", EMB, progress=False)
    stored = stored_cites(tmp_path / "idx")
    for sentence, expected in NUMBERED_EXPECTED.items():
        want = tuple(CitedWork(m, NUMBERED_ENTRIES[n - 1], MAHER_DOI if n == 5 else "") for m, n in expected)
        assert stored[sentence] == want, sentence


def test_an_html_ordered_reference_list_is_numbered(tmp_path):
    items = "".join(f"<li>{e.replace('&', '&amp;')}</li>" for e in NUMBERED_ENTRIES)
    body = "".join(f"<p>{s}</p>" for s in NUMBERED_BODY)
    path = tmp_path / "sij.html"
    path.write_text(f"<html><body><h1>Sacroiliac joint pain</h1><h2>Diagnosis</h2>{body}"
                    f"<h2>References</h2><ol>{items}</ol></body></html>")
    refs = reference_list(read_file(path)[0])
    assert refs.numbered and [e.text for e in refs.entries] == NUMBERED_ENTRIES
    assert resolve_citations(NUMBERED_BODY[1], refs) == (CitedWork("[2, 3]", NUMBERED_ENTRIES[1]),
                                                         CitedWork("[2, 3]", NUMBERED_ENTRIES[2]))


def test_plain_text_with_a_references_line_and_pmid(tmp_path):
    path = tmp_path / "note.txt"
    entry = "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389:736-747. PMID: 27745712"
    path.write_text(f"Back pain\n\nMost back pain is non-specific (Maher 2017).\n\nReferences\n\n{entry}\n")
    refs = reference_list(read_file(path)[0])
    assert resolve_citations("Most back pain is non-specific (Maher 2017).", refs) == (
        CitedWork("Maher 2017", entry, "", "27745712"),)


# The default corpus's in-text forms: "(Maher 2017)", "(Fortin 1994; Cohen 2005)", "Deyo and Weinstein (2001)"
_PARENTHETICAL = re.compile(r"\(([A-Za-z][^()]*?\b(?:19|20)\d{2})\)")
_NARRATIVE = re.compile(r"[A-Z][\w'-]+(?: and (?:colleagues|[A-Z][\w-]+)| et al\.)? \((?:19|20)\d{2}\)")


def test_every_in_text_citation_of_the_default_corpus_resolves(tmp_path):
    ingest_paths([CORPUS], tmp_path / "idx", EMB, progress=False)
    stored = stored_cites(tmp_path / "idx")
    markers = unresolved = 0
    for sentence, cites in stored.items():
        found = [p.strip() for g in _PARENTHETICAL.finditer(sentence) for p in g.group(1).split(";")]
        found += _NARRATIVE.findall(sentence)
        markers += len(found)
        # the parser's marker may be longer: "Van Mieghem and colleagues (2004)" for "Mieghem and colleagues (2004)"
        unresolved += sum(1 for f in found if not any(f in c.marker for c in cites))
    assert markers > 150 and unresolved == 0
