"""HTML: the visible article text, split at h1-h3, metadata from <meta> citation/Dublin Core tags."""
from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from ingest.assemble import TextBuilder, squash_lines
from ingest.documents import Document
from ingest.errors import ReadError
from ingest.metadata import MetaLayer, doc_id_for_path, filename_layer, merge_meta, read_sidecar
from ingest.references import is_reference_heading

_DROP = {"script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template",
         "iframe", "svg", "button", "select", "head", "object", "canvas"}
_HEADINGS = {"h1", "h2", "h3"}
_BLOCK = {"p", "div", "li", "ul", "ol", "table", "tr", "td", "th", "br", "pre", "blockquote", "section",
          "article", "main", "h4", "h5", "h6", "dd", "dt", "dl", "figure", "figcaption", "caption",
          "address", "hr", "body", "thead", "tbody", "details", "summary"}
_SKIP_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
# meta tag name -> field, most specific first (the first one present wins).
_META_TAGS = (
    ("citation_title", "title"), ("dc.title", "title"), ("og:title", "title"),
    ("citation_author", "authors"), ("dc.creator", "authors"), ("author", "authors"),
    ("citation_journal_title", "journal"), ("citation_publisher", "journal"), ("dc.publisher", "journal"),
    ("og:site_name", "journal"),
    ("citation_publication_date", "year"), ("citation_date", "year"), ("dc.date", "year"),
    ("citation_doi", "doi"), ("dc.identifier", "doi"),
    ("citation_article_type", "type"), ("dc.type", "type"),
    ("citation_abstract_html_url", "url"), ("og:url", "url"),
)


class _SectionCollector:
    """Walks the tree once, cutting a new section at every h1-h3."""

    def __init__(self) -> None:
        self.builder = TextBuilder()
        self.heading = ""
        self.buffer: list[str] = []

    def flush(self) -> None:
        """Close the current section."""
        body = squash_lines("".join(self.buffer))
        self.builder.add_section(self.heading, body)
        self.buffer = []

    def walk(self, node: Tag) -> None:
        """Collect visible text below node."""
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, _SKIP_STRINGS):
                    self.buffer.append(str(child))
            elif isinstance(child, Tag) and child.name not in _DROP:
                if child.name in _HEADINGS:
                    self.flush()
                    self.heading = " ".join(child.get_text(" ").split())
                    if self.heading:
                        self.builder.add(self.heading)
                elif child.name in _BLOCK:
                    # A blank line after each block keeps list items and cells apart as sentences.
                    self.buffer.append("\n\n")
                    self.buffer.append(self.list_number(child))
                    self.walk(child)
                    self.buffer.append("\n\n")
                else:
                    self.walk(child)


    def list_number(self, item: Tag) -> str:
        """The number a browser prints before an <ol> item of a reference list ("3. "), so "[3]" resolves."""
        parent = item.parent
        if item.name != "li" or parent is None or parent.name != "ol" or not is_reference_heading(self.heading):
            return ""
        try:
            first = int(parent.get("start", 1))
        except ValueError:
            first = 1
        position = sum(1 for sibling in item.find_previous_siblings("li"))
        return f"{first + position}. "


def _meta_layer(soup: BeautifulSoup) -> MetaLayer:
    """Metadata from <meta> tags, <link rel=canonical> and <title> (or the first h1)."""
    found: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("name") or tag.get("property") or "").strip().lower()
        content = " ".join((tag.get("content") or "").split())
        if key and content:
            found.setdefault(key, []).append(content)
    values: dict[str, object] = {}
    for key, name in _META_TAGS:
        if name not in values and key in found:
            values[name] = found[key] if name == "authors" else found[key][0]
    if "url" not in values:
        link = soup.find("link", rel="canonical")
        if link is not None and link.get("href"):
            values["url"] = link["href"].strip()
    if "title" not in values:
        title = soup.title.get_text(" ") if soup.title else ""
        if not title.strip() and soup.find("h1"):
            title = soup.find("h1").get_text(" ")
        if title.strip():
            values["title"] = title
    return MetaLayer(values)


def read_html(path: Path, data: bytes, source_hash: str) -> list[Document]:
    """One Document of the page's visible text."""
    soup = BeautifulSoup(data, "lxml")
    collector = _SectionCollector()
    collector.walk(soup.body or soup)
    collector.flush()
    if not collector.builder.sections:
        raise ReadError("no visible text in HTML")
    # The page's own tags describe it less reliably than a sidecar the user wrote, hence the order.
    meta = merge_meta([read_sidecar(path), _meta_layer(soup), filename_layer(path)])
    return [Document(doc_id=doc_id_for_path(path), source=str(path), text=collector.builder.text, meta=meta,
                     sections=tuple(collector.builder.sections), content_hash=source_hash)]
