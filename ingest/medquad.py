"""MedQuAD XML: one file is one NIH consumer-health article made of question-answer pairs."""
from __future__ import annotations

from pathlib import Path

from lxml import etree

from ingest.assemble import TextBuilder, squash_lines
from ingest.documents import Document
from ingest.errors import ReadError
from ingest.metadata import MetaLayer, filename_layer, merge_meta, read_sidecar, safe_id

# No entity expansion, no network: an XML file is untrusted input.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def read_medquad(path: Path, data: bytes, source_hash: str) -> list[Document]:
    """One Document: focus as title, each answered pair a section headed by its question."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ReadError(f"malformed XML: {exc}") from exc
    pairs_node = _child(root, "qapairs")
    if pairs_node is None:
        raise ReadError("unsupported XML (not a MedQuAD document: no <QAPairs>)")
    focus = _text(_child(root, "focus", "doctitle-focus"))
    # A few MedQuAD folders use an older schema (<doc corpus=...>, <pair>, lowercase tags).
    source = (root.get("source") or root.get("corpus") or "").strip()
    builder = TextBuilder()
    if focus:
        builder.add(focus)
    for pair in pairs_node:
        if not isinstance(pair.tag, str) or pair.tag.lower() not in ("qapair", "pair"):
            continue
        question = _text(_child(pair, "question"))
        node = _child(pair, "answer")
        answer = squash_lines("".join(node.itertext())) if node is not None else ""
        if not answer:
            continue  # answers removed for licence reasons: nothing to cite
        builder.add(question)
        builder.add_section(question, answer, sep="\n")
    record = MetaLayer({"title": focus, "journal": source, "url": root.get("url", ""),
                        "type": "patient information"})
    meta = merge_meta([record, read_sidecar(path), filename_layer(path)])
    # The id comes from the file's name and its `source` attribute, both untrusted: made URL-safe.
    doc_id = safe_id(f"{source}_{path.stem}" if source else path.stem)
    return [Document(doc_id=doc_id, source=str(path), text=builder.text, meta=meta,
                     sections=tuple(builder.sections), content_hash=source_hash)]


def _child(node, *names: str):
    """The first child whose tag matches one of names, ignoring case."""
    for child in node:
        if isinstance(child.tag, str) and child.tag.lower() in names:
            return child
    return None


def _text(node) -> str:
    """All text inside node on one line ("" for None)."""
    return " ".join("".join(node.itertext()).split()) if node is not None else ""
