"""Chunking: exact packing on literal inputs, and offsets that hold for every reader (property tests)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunking import chunk_document, pack_sentences
from ingest.documents import Document, DocMeta, Section, content_hash
from ingest.readers import read_file
import blingfire

from ingest.sentences import blingfire_sentence_offsets, sentence_spans


def doc_of(text: str, sections: list[tuple[str, int, int]] | None = None) -> Document:
    """A Document over text; one untitled section unless sections are given."""
    spans = sections or [("", 0, len(text))]
    return Document(doc_id="d", source="mem", text=text, meta=DocMeta(),
                    sections=tuple(Section(h, s, e) for h, s, e in spans), content_hash="")


def test_fast_offsets_equal_blingfire_wrapper_on_literal_text():
    text = "Café au lait spots. Naïve B-cells \u2014 5 \u00b5g/mL. Next one \U0001F600 here. Dr. Smith\u2019s ends \u00e9"
    assert blingfire_sentence_offsets(text) == blingfire.text_to_sentences_and_offsets(text)[1]
    assert blingfire_sentence_offsets("Pain. More pain here.") == [(0, 5), (6, 21)]
    # character offsets, not byte offsets, past the multi-byte characters
    assert blingfire_sentence_offsets(text) == [(0, 19), (20, 44), (45, 80)]
    assert text[20:44] == "Na\u00efve B-cells \u2014 5 \u00b5g/mL."


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("ab c.?!\n\u00e9\u00fc\u2019\u00a0\u4e2d\u3002") + ["\U0001F600", "Dr. "]),
                min_size=1, max_size=80).map("".join))
def test_fast_offsets_equal_blingfire_wrapper(text):
    if text.strip():
        assert blingfire_sentence_offsets(text) == blingfire.text_to_sentences_and_offsets(text)[1]
    else:  # the wrapper reports a sentence of nothing; sentence_spans skips such blocks anyway
        assert blingfire_sentence_offsets(text) == []


def test_pack_sentences_exact_groups():
    # 10 sentences of 30 words: groups of 6 (180 words) with one sentence of overlap.
    assert pack_sentences([30] * 10) == [(0, 6), (5, 10)]
    # A short tail (one new sentence of 20 words) merges into the previous group.
    assert pack_sentences([50, 50, 50, 50, 20]) == [(0, 5)]
    # A sentence longer than max_words stands alone, uncut.
    assert pack_sentences([10, 400, 10]) == [(0, 1), (1, 2), (2, 3)]
    assert pack_sentences([400]) == [(0, 1)]
    assert pack_sentences([]) == []
    assert pack_sentences([30] * 10, overlap_sentences=0) == [(0, 6), (6, 10)]


def test_chunks_respect_sections_sizes_and_overlap():
    sentence = "The patient received twelve milligrams of the study drug daily for six weeks. "
    body = sentence * 40  # 40 sentences of 13 words
    text = "Intro.\n\n" + body.strip() + "\n\nShort closing section."
    intro_end = len("Intro.")
    body_start = intro_end + 2
    body_end = body_start + len(body.strip())
    doc = doc_of(text, [("A", 0, intro_end), ("B", body_start, body_end), ("C", body_end + 2, len(text))])
    chunks = chunk_document(doc)
    assert [c.heading for c in chunks] == ["A", "B", "B", "B", "C"]
    assert [len(c.text.split()) for c in chunks] == [1, 182, 182, 182, 3]
    assert [c.chunk_id for c in chunks] == ["d#0", "d#1", "d#2", "d#3", "d#4"]
    # One sentence of overlap: each chunk of B starts with the last sentence of the one before.
    assert chunks[2].start == chunks[1].end - len(sentence.strip())
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.content_hash == content_hash(c.text)


def check_chunks(doc: Document) -> None:
    """The invariants every chunk of every document must hold."""
    chunks = chunk_document(doc)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert any(s.start <= c.start and c.end <= s.end and s.heading == c.heading and s.page == c.page
                   for s in doc.sections)
        spans = sentence_spans(doc.text, c.start, c.end)
        assert len(c.text.split()) <= 250 or len(spans) == 1  # only a single long sentence may exceed
    covered = {span for s in doc.sections for span in sentence_spans(doc.text, s.start, s.end)}
    chunked = {span for c in chunks for span in sentence_spans(doc.text, c.start, c.end)}
    assert covered == chunked  # every sentence is in some chunk, and none is cut


words = st.sampled_from(["aspirin", "dose", "Dr.", "3.5", "mg", "e.g.", "trial", "blood", "pressure", "the",
                         "patients", "(n=12)", "é", "naïve", "α-blocker", "U.S.", "risk"])
sentences = st.builds(lambda ws, end: " ".join(ws) + end, st.lists(words, min_size=1, max_size=40),
                      st.sampled_from([".", "?", "!", "", "..."]))
paragraphs = st.builds(lambda ss, sep: sep.join(ss), st.lists(sentences, min_size=1, max_size=30),
                       st.sampled_from([" ", "  ", "\n", " \t"]))
headings = st.builds(lambda ws: " ".join(ws), st.lists(words, min_size=1, max_size=5))
sections = st.lists(st.tuples(headings, paragraphs), min_size=1, max_size=5)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_written(name: str, content: str) -> list[Document]:
    """Write content to a fresh file and read it back (a ReadError fails the test: every input is valid)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(content, encoding="utf-8")
        return list(read_file(path))


@FAST
@given(sections, st.booleans())
def test_markdown_and_text_offsets_property(secs, front):
    md = ("---\ntitle: T\n---\n" if front else "") + "\n\n".join(f"## {h}\n\n{p}" for h, p in secs)
    docs = read_written("x.md", md) + read_written("x.txt", md)
    assert len(docs) == 2
    for doc in docs:
        check_chunks(doc)


@FAST
@given(sections)
def test_html_offsets_property(secs):
    from html import escape

    html = "<html><body>" + "".join(f"<h2>{escape(h)}</h2><p>{escape(p)}</p><ul><li>{escape(p[:30])}</li></ul>"
                                    for h, p in secs) + "</body></html>"
    docs = read_written("x.html", html)
    assert len(docs) == 1
    for doc in docs:
        check_chunks(doc)


@FAST
@given(st.lists(st.tuples(headings, paragraphs), min_size=1, max_size=6))
def test_beir_and_medquad_offsets_property(records):
    from xml.sax.saxutils import escape

    corpus = "\n".join(json.dumps({"_id": f"id{i}", "title": t, "text": p}) for i, (t, p) in enumerate(records))
    pairs = "".join(f"<QAPair><Question>{escape(t)}</Question><Answer>{escape(p)}</Answer></QAPair>"
                    for t, p in records)
    xml = f'<Document source="GARD" url="u"><Focus>F</Focus><QAPairs>{pairs}</QAPairs></Document>'
    docs = read_written("corpus.jsonl", corpus) + read_written("1.xml", xml)
    assert len(docs) == len(records) + 1
    for doc in docs:
        check_chunks(doc)
