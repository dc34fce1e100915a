"""Small literal documents for the index tests."""
from __future__ import annotations

from ingest.documents import DocMeta, Document, Section, content_hash


def make_doc(doc_id: str, text: str, title: str = "", type_: str = "", year: int | None = None,
             heading: str = "") -> Document:
    """A one-section Document over the whole text."""
    return Document(doc_id=doc_id, source=f"/corpus/{doc_id}.txt", text=text,
                    meta=DocMeta(title=title, type=type_, year=year),
                    sections=(Section(heading, 0, len(text)),), content_hash=content_hash(text))


LITERAL = [
    make_doc("asthma", "Asthma narrows the airways. Inhalers relieve wheezing and asthma attacks.",
             "Asthma", "guideline", 2019),
    make_doc("diabetes", "Diabetes raises blood glucose. Insulin lowers glucose in diabetes.",
             "Diabetes", "review", 2012),
    make_doc("gout", "Gout causes painful joints. Uric acid crystals build up in the big toe.",
             "Gout", "research", 2021),
    make_doc("flu", "Influenza spreads each winter. Vaccines prevent influenza.", "Influenza",
             "patient information", None),
]
