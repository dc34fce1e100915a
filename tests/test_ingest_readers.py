"""Readers on tiny literal inputs with exact expectations, plus the real PDFs and MedQuAD when present."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.documents import DocMeta
from ingest.metadata import normalise_type, parse_authors, parse_year
from ingest.batch import read_many
from ingest.readers import READER_REVISIONS, ReadError, discover, read_file

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

MARKDOWN = """---
title: Managing Hypertension
authors: [Ann Lee, Bo Chen]
type: Clinical Practice Guideline
journal: Heart Society
year: 2021
doi: https://doi.org/10.1000/xyz123
---
# Managing Hypertension

Intro sentence one. Intro sentence two.

## Diagnosis

Measure blood pressure twice. Use a validated cuff.

## Treatment

Start with lifestyle changes.
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write a file into tmp_path and return its path."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_markdown_front_matter_headings_and_chunks(tmp_path):
    [doc] = read_file(write(tmp_path, "htn.md", MARKDOWN))
    assert doc.meta == DocMeta(title="Managing Hypertension", authors=("Ann Lee", "Bo Chen"), type="guideline",
                               journal="Heart Society", year=2021, url="", doi="10.1000/xyz123")
    assert [s.heading for s in doc.sections] == ["Managing Hypertension", "Diagnosis", "Treatment"]
    assert [doc.text[s.start:s.end] for s in doc.sections] == [
        "Intro sentence one. Intro sentence two.",
        "Measure blood pressure twice. Use a validated cuff.",
        "Start with lifestyle changes."]
    chunks = chunk_document(doc)
    assert [(c.chunk_id, c.heading, c.text) for c in chunks] == [
        (f"{doc.doc_id}#0", "Managing Hypertension", "Intro sentence one. Intro sentence two."),
        (f"{doc.doc_id}#1", "Diagnosis", "Measure blood pressure twice. Use a validated cuff."),
        (f"{doc.doc_id}#2", "Treatment", "Start with lifestyle changes."),
    ]
    assert doc.doc_id.startswith("htn-") and len(doc.doc_id) == len("htn-") + 8


def test_metadata_precedence_front_matter_then_sidecar_then_filename(tmp_path):
    path = write(tmp_path, "my_notes-file.md", "---\ntitle: From front matter\n---\nBody text here.\n")
    write(tmp_path, "my_notes-file.md.meta.json", json.dumps(
        {"title": "From sidecar", "year": "2019-03-01", "url": "https://example.org/a", "type": "weird"}))
    [doc] = read_file(path)
    assert doc.meta == DocMeta(title="From front matter", year=2019, url="https://example.org/a", type="other")
    [plain] = read_file(write(tmp_path, "plain_notes-v2.txt", "Just text.\n\nMore text."))
    assert plain.meta == DocMeta(title="plain notes v2")  # never invented: only the file name is known
    assert [(s.heading, plain.text[s.start:s.end]) for s in plain.sections] == [("", "Just text.\n\nMore text.")]


def test_sidecar_overrides_pdf_info_but_filename_is_last(tmp_path):
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "report.pdf"
    c = canvas.Canvas(str(pdf))
    c.setTitle("Info Title")
    c.setAuthor("Info Author")
    c.drawString(72, 720, "Page one says hello.")
    c.showPage()
    c.drawString(72, 720, "Page two says goodbye.")
    c.save()
    [doc] = read_file(pdf)
    assert (doc.meta.title, doc.meta.authors) == ("Info Title", ("Info Author",))
    assert [(s.page, doc.text[s.start:s.end]) for s in doc.sections] == [
        (1, "Page one says hello."), (2, "Page two says goodbye.")]
    assert [(c.page, c.text) for c in chunk_document(doc)] == [(1, "Page one says hello."),
                                                              (2, "Page two says goodbye.")]
    write(tmp_path, "report.pdf.meta.json", json.dumps({"title": "Sidecar Title", "type": "Systematic Review"}))
    [doc] = read_file(pdf)
    assert (doc.meta.title, doc.meta.authors, doc.meta.type) == ("Sidecar Title", ("Info Author",),
                                                                 "systematic review")


@pytest.mark.parametrize("raw,expected", [
    ("Guideline", "guideline"), ("clinical practice guideline", "guideline"),
    ("Systematic Review", "systematic review"), ("meta-analysis", "systematic review"),
    ("Review Article", "review"), ("Randomized controlled trial", "research"),
    ("patient information", "patient information"), ("poem", "other"), ("", ""), (None, ""),
])
def test_type_normalisation(raw, expected):
    assert normalise_type(raw) == expected


def test_year_and_author_parsing():
    assert [parse_year(v) for v in (2004, "2004-05-01", "D:20040101", "n.d.", None)] == [2004, 2004, 2004, None,
                                                                                         None]
    assert parse_authors("Smith, J; Doe, A") == ("Smith, J", "Doe, A")
    assert parse_authors(["  Ann  Lee ", ""]) == ("Ann Lee",)


HTML = b"""<!doctype html><html><head><title>Page Title</title>
<meta name="citation_title" content="Aspirin in Primary Prevention">
<meta name="citation_author" content="Lee, Ann"><meta name="citation_author" content="Chen, Bo">
<meta name="citation_journal_title" content="BMJ"><meta name="citation_publication_date" content="2018/09/16">
<meta name="citation_doi" content="10.1136/bmj.k1234"><meta property="og:url" content="https://bmj.com/k1234">
<script>var x = "never shown";</script><style>p {color: red}</style></head>
<body><nav>Home | About</nav><header>Site header</header>
<p>Lead paragraph before any heading.</p>
<h2>Methods</h2><p>We pooled <b>ten</b> trials.</p><ul><li>First item</li><li>Second item</li></ul>
<h2>Results</h2><p>Aspirin reduced events.</p><footer>Copyright</footer><aside>Ad</aside></body></html>"""


def test_html_visible_text_sections_and_citation_meta(tmp_path):
    [doc] = read_file(write(tmp_path, "page.html", HTML))
    assert doc.meta == DocMeta(title="Aspirin in Primary Prevention", authors=("Lee, Ann", "Chen, Bo"),
                               journal="BMJ", year=2018, url="https://bmj.com/k1234", doi="10.1136/bmj.k1234")
    assert [(s.heading, doc.text[s.start:s.end]) for s in doc.sections] == [
        ("", "Lead paragraph before any heading."),
        ("Methods", "We pooled ten trials.\n\nFirst item\n\nSecond item"),
        ("Results", "Aspirin reduced events."),
    ]
    for hidden in ("never shown", "color", "Home", "Site header", "Copyright", "Ad"):
        assert hidden not in doc.text


MEDQUAD = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000042_1" source="GARD" url="https://rarediseases.info.nih.gov/x">
<Focus>Foo Syndrome</Focus>
<QAPairs>
  <QAPair pid="1"><Question qid="1">What is (are) Foo Syndrome ?</Question>
    <Answer>Foo syndrome is rare.
        It affects   the skin.

        Treatment is supportive.</Answer></QAPair>
  <QAPair pid="2"><Question qid="2">How many people are affected ?</Question><Answer></Answer></QAPair>
  <QAPair pid="3"><Question qid="3">Is it inherited ?</Question><Answer>Yes, it is.</Answer></QAPair>
</QAPairs></Document>"""

MEDQUAD_OLD_SCHEMA = """<?xml version="1.0" encoding="UTF-8"?>
<doc docid="0000182" corpus="NINDS" url="http://www.ninds.nih.gov/x.htm">
<doctitle-focus>Lipid Storage Diseases</doctitle-focus>
<qaPairs><pair pid="1"><question qid="1">what are lipid storage diseases?</question>
<answer>They are inherited disorders.</answer></pair></qaPairs></doc>"""


def test_medquad_article_answered_pairs_are_sections(tmp_path):
    [doc] = read_file(write(tmp_path, "0000042_1.xml", MEDQUAD))
    assert doc.doc_id == "GARD_0000042_1"
    assert doc.meta == DocMeta(title="Foo Syndrome", type="patient information", journal="GARD",
                               url="https://rarediseases.info.nih.gov/x")
    assert doc.text == ("Foo Syndrome\n\nWhat is (are) Foo Syndrome ?\nFoo syndrome is rare.\nIt affects the skin."
                        "\n\nTreatment is supportive.\n\nIs it inherited ?\nYes, it is.")
    assert [(s.heading, doc.text[s.start:s.end]) for s in doc.sections] == [
        ("What is (are) Foo Syndrome ?", "Foo syndrome is rare.\nIt affects the skin.\n\nTreatment is supportive."),
        ("Is it inherited ?", "Yes, it is."),
    ]
    [old] = read_file(write(tmp_path, "0000182.xml", MEDQUAD_OLD_SCHEMA))
    assert (old.doc_id, old.meta.title, old.meta.journal) == ("NINDS_0000182", "Lipid Storage Diseases", "NINDS")
    assert [s.heading for s in old.sections] == ["what are lipid storage diseases?"]


def test_medquad_without_answers_is_a_document_not_a_failure(tmp_path):
    xml = MEDQUAD.replace("Foo syndrome is rare.", "").replace("It affects   the skin.", "")
    xml = xml.replace("Treatment is supportive.", "").replace("Yes, it is.", "")
    [doc] = read_file(write(tmp_path, "0000043.xml", xml))
    assert (doc.text, doc.sections, chunk_document(doc)) == ("Foo Syndrome", (), [])


def test_beir_corpus_reports_bad_lines_and_keeps_the_rest(tmp_path):
    lines = [json.dumps({"_id": "d1", "title": "One", "text": "First text.", "metadata": {"year": 2020}}),
             "{not json",
             json.dumps({"_id": "d2", "title": "", "text": "Second text."}),
             json.dumps({"title": "no id", "text": "x"})]
    path = write(tmp_path, "corpus.jsonl", "\n".join(lines) + "\n")
    result = read_file(path)
    assert [(d.doc_id, d.meta.title, d.meta.year, d.text) for d in result] == [
        ("d1", "One", 2020, "First text."), ("d2", "", None, "Second text.")]
    assert [loc for loc, _ in result.errors] == [f"{path}:2", f"{path}:4"]
    assert result.errors[1][1] == 'missing or empty "_id"'


def test_discover_skips_sidecars_hidden_files_and_non_corpus_jsonl(tmp_path):
    for name in ("a.md", "b.pdf", "b.pdf.meta.json", ".hidden.txt", "queries.jsonl", "corpus.jsonl", "x.docx"):
        write(tmp_path, name, "x")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c.html", "<p>x</p>")
    skipped: list[Path] = []
    assert [p.name for p in discover([tmp_path], skipped=skipped)] == ["a.md", "b.pdf", "corpus.jsonl", "c.html"]
    assert sorted(p.name for p in skipped) == ["queries.jsonl", "x.docx"]
    with pytest.raises(ReadError, match=r"^unsupported file type '.docx'$"):
        read_file(tmp_path / "x.docx")


@pytest.mark.skipif(not (SHARED / "pdfs").is_dir(), reason="shared PDFs not present")
def test_every_real_pdf_is_ingested_with_text_or_reported():
    files = discover([SHARED / "pdfs"])
    assert files
    t0 = time.perf_counter()
    results = dict(read_many(files, timeout_s=20))
    assert time.perf_counter() - t0 < 60
    assert sorted(results) == files
    ingested = [r for r in results.values() if not isinstance(r, ReadError)]
    assert len(ingested) >= len(files) // 2
    for path, result in results.items():
        if isinstance(result, ReadError):
            assert result.reason.strip(), path
        else:
            [doc] = result
            assert doc.text.strip() and all(s.page >= 1 for s in doc.sections)
            for chunk in chunk_document(doc):
                assert doc.text[chunk.start:chunk.end] == chunk.text


@pytest.mark.skipif(not (SHARED / "medquad").is_dir(), reason="shared MedQuAD not present")
def test_medquad_answers_match_the_beir_corpus_sample():
    """Each BEIR record (one answered pair) appears, whitespace aside, as a section of its article."""
    corpus = SHARED / "medquad-dev" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip("medquad-dev corpus not present")
    by_stem: dict[str, list[Path]] = {}
    for path in (SHARED / "medquad").rglob("*.xml"):
        by_stem.setdefault(path.stem, []).append(path)
    records = [json.loads(line) for line in corpus.read_text().splitlines()[::40]]
    for record in records:
        doc_id = record["_id"].rsplit("_", 1)[0]  # the BEIR id is the article id plus the pair number
        docs = [d for p in by_stem[doc_id.split("_", 1)[1]] for d in read_file(p) if d.doc_id == doc_id]
        assert len(docs) == 1, record["_id"]
        bodies = {" ".join(docs[0].text[s.start:s.end].split()) for s in docs[0].sections}
        assert " ".join(record["text"].split()) in bodies, record["_id"]


def outlined_pdf(path: Path, pages: list[list[str]], outline: list[tuple[int, str, str]]) -> Path:
    """A PDF whose pages hold the given lines, with outline entries (page index, title, bookmark key)."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for index, lines in enumerate(pages):
        for page, _, key in outline:
            if page == index:
                c.bookmarkPage(key)
        y = 800
        for line in lines:
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    for _, title, key in outline:
        c.addOutlineEntry(title, key, level=0)
    c.save()
    return path


def test_pdf_sections_follow_the_outline(tmp_path):
    pdf = outlined_pdf(tmp_path / "outlined.pdf", [
        ["Intro text before any heading sits here.", "1 Causes of sciatica",
         "A herniated disc presses on the nerve root.", "2.1 Treatment", "Most sciatica settles within weeks."],
        ["Physiotherapy helps many patients recover.", "What is the outlook?", "The outlook is good for most."],
    ], [(0, "Causes of sciatica", "a"), (0, "Treatment", "b"), (1, "What is the outlook?", "c"),
        (1, "Not printed anywhere", "d")])
    [doc] = read_file(pdf)
    got = [(s.heading, s.page, doc.text[s.start:s.end]) for s in doc.sections]
    assert got == [
        ("", 1, "Intro text before any heading sits here."),
        ("Causes of sciatica", 1, "A herniated disc presses on the nerve root."),
        ("Treatment", 1, "Most sciatica settles within weeks."),
        # text before page 2's first printed heading continues the section of page 1
        ("Treatment", 2, "Physiotherapy helps many patients recover."),
        # a title that is not in the text starts where the previous section ended: it takes the rest
        ("Not printed anywhere", 2, "The outlook is good for most."),
    ]


def test_pdf_with_a_broken_outline_keeps_one_section_per_page(tmp_path, monkeypatch):
    pdf = outlined_pdf(tmp_path / "o.pdf", [["Page one has a sentence here."], ["Page two has another one."]],
                       [(0, "Page one", "a")])
    import pypdf

    def broken(self):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pypdf.PdfReader, "outline", property(broken))
    [doc] = read_file(pdf)
    assert [(s.heading, s.page) for s in doc.sections] == [("", 1), ("", 2)]


def test_corpus_pdf_headings_become_related_questions(tmp_path):
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder
    from index.store import Index

    pdf = Path(__file__).resolve().parents[1] / "corpus" / "proximal-hamstring-tendinopathy.pdf"
    [doc] = read_file(pdf)
    assert [s.heading for s in doc.sections][:3] == [
        "Proximal hamstring tendinopathy: lower buttock pain at the ischial tuberosity",
        "What is proximal hamstring tendinopathy?", "Who gets proximal hamstring tendinopathy?"]
    ingest_paths([pdf], tmp_path / "idx", FakeEmbedder())
    [record] = Index.open(tmp_path / "idx").documents()
    assert record.questions[:2] == ("What is proximal hamstring tendinopathy?", "Who gets proximal hamstring tendinopathy?")


def test_a_new_reader_revision_re_reads_unchanged_files(tmp_path, monkeypatch):
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder

    pdf = outlined_pdf(tmp_path / "p.pdf", [["Sciatica follows the sciatic nerve down the leg."]], [])
    md = tmp_path / "a.md"
    md.write_text("# A\n\nPiriformis syndrome is buttock pain from the piriformis muscle.\n")
    first = ingest_paths([pdf, md], tmp_path / "idx", FakeEmbedder())
    assert (first.added, first.unchanged) == (2, 0)
    assert ingest_paths([pdf, md], tmp_path / "idx", FakeEmbedder()).unchanged == 2
    monkeypatch.setitem(READER_REVISIONS, ".pdf", 99)
    again = ingest_paths([pdf, md], tmp_path / "idx", FakeEmbedder())
    assert (again.updated, again.unchanged) == (1, 1)
