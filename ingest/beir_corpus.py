"""BEIR corpus.jsonl: one JSON object per line, each one Document."""
from __future__ import annotations

import json
from pathlib import Path

from ingest.documents import Document, Section, content_hash
from ingest.errors import ReadError
from ingest.metadata import MetaLayer, layer_from_mapping, merge_meta


def read_beir_corpus(path: Path, data: str) -> tuple[list[Document], list[tuple[str, str]]]:
    """Documents of every good line, and (`file:LINE`, reason) for every bad one."""
    docs: list[Document] = []
    errors: list[tuple[str, str]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append(_record_document(path, line, number))
        except ReadError as exc:
            errors.append((f"{path}:{number}", exc.reason))
    if not docs and errors:
        raise ReadError(f"no valid records ({len(errors)} bad lines; line {errors[0][0].rsplit(':', 1)[1]}: "
                        f"{errors[0][1]})")
    return docs, errors


def _record_document(path: Path, line: str, number: int) -> Document:
    """The Document of one corpus line; text only, the title goes to the metadata."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReadError(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise ReadError("record is not a JSON object")
    doc_id, text = record.get("_id"), record.get("text")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ReadError("missing or empty \"_id\"")
    if not isinstance(text, str):
        raise ReadError(f"record {doc_id!r} has no \"text\" string")
    extra = record.get("metadata")
    layers = [MetaLayer({"title": record.get("title") or ""})]
    if isinstance(extra, dict):
        layers.append(layer_from_mapping(extra))
    sections = (Section(heading="", start=0, end=len(text)),) if text.strip() else ()
    return Document(doc_id=doc_id.strip(), source=str(path), text=text,
                    meta=merge_meta(layers), sections=sections, content_hash=content_hash(line))
