"""Build the PDF articles of the default corpus from their Markdown sources.

Usage (from the repository root):

    .venv/bin/python scripts/make_corpus_pdfs.py

Every ``scripts/pdf-src/<name>.md`` becomes ``corpus/<name>.pdf`` plus a sidecar
``corpus/<name>.pdf.meta.json`` holding the exact metadata.  The sources use the
same YAML front matter as the Markdown articles in ``corpus/`` and a small subset
of Markdown: one ``# `` title line, ``## `` section headings, paragraphs
separated by blank lines, and ``- `` list items (used for references).

Output is deterministic: reportlab runs in invariant mode and the creation date
is pinned, so rebuilding from unchanged sources gives byte-identical PDFs.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

# Pin the PDF timestamp before reportlab reads it (2026-01-01T00:00:00Z).
os.environ["SOURCE_DATE_EPOCH"] = "1767225600"

from reportlab import rl_config  # noqa: E402

rl_config.invariant = 1

from reportlab.lib.enums import TA_LEFT  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import cm  # noqa: E402
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "scripts" / "pdf-src"
OUT_DIR = ROOT / "corpus"


def parse_front_matter(text: str) -> tuple[dict, str]:
    """Split ``---`` front matter (flat keys, strings, ints, JSON-style lists) from the body."""
    if not text.startswith("---\n"):
        raise ValueError("source must start with YAML front matter")
    end = text.index("\n---\n", 4)
    meta: dict = {}
    for line in text[4:end].splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith("["):
            meta[key.strip()] = json.loads(value)
        elif value.startswith('"') and value.endswith('"'):
            meta[key.strip()] = json.loads(value)
        elif re.fullmatch(r"\d+", value):
            meta[key.strip()] = int(value)
        else:
            meta[key.strip()] = value
    return meta, text[end + 5:]


def parse_body(body: str) -> list[tuple[str, str]]:
    """Return blocks as (kind, text) with kind in {"title", "h2", "p", "li"}."""
    blocks: list[tuple[str, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(("p", " ".join(para)))
            para.clear()

    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(("h2", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            blocks.append(("title", line[2:].strip()))
        elif line.startswith("- "):
            flush()
            blocks.append(("li", line[2:].strip()))
        else:
            para.append(line)
    flush()
    return blocks


class OutlinedDocTemplate(SimpleDocTemplate):
    """A SimpleDocTemplate that adds a PDF outline (bookmark) entry for the title and each heading."""

    def afterFlowable(self, flowable) -> None:  # noqa: N802 - reportlab hook name
        level = getattr(flowable, "outline_level", None)
        if level is None:
            return
        key = f"h{self.seq.nextf('outline')}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)


def heading(text: str, style: ParagraphStyle, level: int) -> Paragraph:
    para = Paragraph(escape(text), style)
    para.outline_level = level
    return para


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_ascii(name: str, text: str) -> None:
    bad = sorted({c for c in text if ord(c) > 126})
    if bad:
        raise SystemExit(f"{name}: non-ASCII characters {bad!r}; use plain ASCII in PDF sources")


def build(src: Path) -> Path:
    text = src.read_text(encoding="utf-8")
    check_ascii(src.name, text)
    meta, body = parse_front_matter(text)
    blocks = parse_body(body)

    styles = getSampleStyleSheet()
    title_style = ParagraphStyle("ArticleTitle", parent=styles["Title"], fontName="Helvetica-Bold",
                                 fontSize=17, leading=21, alignment=TA_LEFT, spaceAfter=6)
    byline_style = ParagraphStyle("Byline", parent=styles["Normal"], fontName="Helvetica",
                                  fontSize=9, leading=12, spaceAfter=14)
    h2_style = ParagraphStyle("Heading", parent=styles["Heading2"], fontName="Helvetica-Bold",
                              fontSize=12.5, leading=16, spaceBefore=12, spaceAfter=5)
    body_style = ParagraphStyle("Body", parent=styles["Normal"], fontName="Times-Roman",
                                fontSize=11, leading=15, spaceAfter=7)
    ref_style = ParagraphStyle("Reference", parent=body_style, fontSize=9.5, leading=12.5,
                               leftIndent=12, firstLineIndent=-12, spaceAfter=4)

    out = OUT_DIR / (src.stem + ".pdf")
    authors = ", ".join(meta.get("authors", []))
    doc = OutlinedDocTemplate(
        str(out), pagesize=A4, leftMargin=2.5 * cm, rightMargin=2.5 * cm,
        topMargin=2.2 * cm, bottomMargin=2.2 * cm,
        title=meta["title"], author=authors, subject=meta["type"],
        keywords=meta.get("keywords", ""), creator="medcite scripts/make_corpus_pdfs.py",
        producer="medcite default corpus", invariant=1,
    )

    story = []
    in_refs = False
    for kind, content in blocks:
        if kind == "title":
            story.append(heading(content, title_style, 0))
            byline = f"{authors} | {meta.get('publisher', '')} | {meta.get('year', '')} | {meta['type']}"
            story.append(Paragraph(escape(byline), byline_style))
        elif kind == "h2":
            in_refs = content.lower() == "references"
            story.append(heading(content, h2_style, 1))
        elif kind == "li":
            story.append(Paragraph(escape(content), ref_style if in_refs else body_style))
        else:
            story.append(Paragraph(escape(content), body_style))
    story.append(Spacer(1, 6))
    doc.build(story)

    sidecar = {
        "title": meta["title"],
        "type": meta["type"],
        "authors": meta.get("authors", []),
        "publisher": meta.get("publisher", ""),
        "year": meta.get("year"),
    }
    (OUT_DIR / (src.stem + ".pdf.meta.json")).write_text(
        json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def main() -> int:
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        print(f"no sources in {SRC_DIR}", file=sys.stderr)
        return 1
    for src in sources:
        out = build(src)
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
