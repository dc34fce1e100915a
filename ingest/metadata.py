"""Metadata from the layers a file offers, merged in order of trust; unknown stays empty."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.documents import DOC_TYPES, DocMeta, content_hash
from ingest.errors import ReadError

# Free-text types as publishers write them -> DOC_TYPES. Checked in order, first match wins,
# so "systematic review" is recognised before the broader "review".
_TYPE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"guideline|recommendation|consensus statement|position statement|practice parameter", "guideline"),
    (r"systematic|meta-?analys|cochrane", "systematic review"),
    (r"patient|consumer|fact ?sheet|leaflet|health topic", "patient information"),
    (r"\breview\b|overview", "review"),
    (r"research|original|trial|study|cohort|article|paper|report", "research"),
)
# A year standing alone, or leading a compact date such as 20040517 or the PDF form D:20040517...
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?:(?!\d)|(?=\d{4}(?!\d))|(?=\d{10}))")
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_META_FIELDS = ("title", "authors", "type", "journal", "year", "url", "doi")


@dataclass(frozen=True)
class MetaLayer:
    """Metadata values found in one place (front matter, sidecar, PDF info...); None = not given."""

    values: Mapping[str, object] = field(default_factory=dict)


def normalise_type(value: object) -> str:
    """Map a free-text document type onto DOC_TYPES; a given but unknown type becomes "other"."""
    text = _as_text(value).lower()
    if not text:
        return ""
    if text in DOC_TYPES:
        return text
    for pattern, doc_type in _TYPE_PATTERNS:
        if re.search(pattern, text):
            return doc_type
    return "other"


def parse_year(value: object) -> int | None:
    """The first plausible four-digit year in a date-like value, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1800 <= value <= 2100 else None
    m = _YEAR.search(_as_text(value))
    return int(m.group(1)) if m else None


def parse_authors(value: object) -> tuple[str, ...]:
    """Authors from a list, or from a string separated by ';' or newlines."""
    if isinstance(value, (list, tuple)):
        items = [_as_text(v) for v in value]
    else:
        # A comma may sit inside one name ("Smith, J"), so only ';' and newlines separate.
        items = re.split(r"[;\n]", _as_text(value))
    return tuple(a for a in (" ".join(i.split()) for i in items) if a)


def parse_doi(value: object) -> str:
    """A bare DOI (10.xxxx/...) from a DOI, a doi: string or a doi.org URL."""
    m = _DOI.search(_as_text(value))
    return m.group(0).rstrip(".,;") if m else ""


def _as_text(value: object) -> str:
    """A metadata value as one squashed line ("" for None)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "; ".join(_as_text(v) for v in value)
    return " ".join(str(value).split())


def layer_from_mapping(raw: Mapping[str, object]) -> MetaLayer:
    """Pick the known keys (and their common synonyms) out of a free-form mapping."""
    lowered = {str(k).lower(): v for k, v in raw.items()}
    synonyms = {
        "title": ("title",),
        "authors": ("authors", "author", "creator", "creators"),
        "type": ("type", "doc_type", "document_type", "publication_type"),
        "journal": ("journal", "publisher", "source", "venue"),
        "year": ("year", "date", "published", "publication_date"),
        "url": ("url", "link", "source_url"),
        "doi": ("doi",),
    }
    values: dict[str, object] = {}
    for name, keys in synonyms.items():
        for key in keys:
            if lowered.get(key) not in (None, "", [], ()):
                values[name] = lowered[key]
                break
    return MetaLayer(values)


def merge_meta(layers: Iterable[MetaLayer]) -> DocMeta:
    """The first non-empty value of each field, layers given most trusted first."""
    out: dict[str, object] = {}
    parsers = {
        "title": _as_text, "authors": parse_authors, "type": normalise_type,
        "journal": _as_text, "year": parse_year, "url": _as_text, "doi": parse_doi,
    }
    for layer in layers:
        for name in _META_FIELDS:
            if name in out or name not in layer.values:
                continue
            parsed = parsers[name](layer.values[name])
            if parsed not in ("", (), None):
                out[name] = parsed
    return DocMeta(**out)


def sidecar_path(path: Path) -> Path:
    """Where the optional metadata sidecar of a file lives: `<file>.meta.json`."""
    return path.with_name(path.name + ".meta.json")


def read_sidecar(path: Path) -> MetaLayer:
    """The sidecar's metadata, or an empty layer when there is none."""
    side = sidecar_path(path)
    if not side.is_file():
        return MetaLayer()
    try:
        raw = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"unreadable metadata sidecar {side.name}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ReadError(f"metadata sidecar {side.name} is not a JSON object")
    return layer_from_mapping(raw)


def filename_layer(path: Path) -> MetaLayer:
    """The last resort: a title made from the file name."""
    title = " ".join(re.sub(r"[_\-]+", " ", path.stem).split())
    return MetaLayer({"title": title} if title else {})


def slug(text: str, limit: int = 48) -> str:
    """A lowercase ASCII identifier fragment."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].strip("-") or "doc"


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ID_CHARS = 120  # ids appear in URLs (/documents/{id}) and log lines; MedQuAD's longest is under 40


def safe_id(text: str) -> str:
    """An id taken from file content made safe for one URL path segment: runs of anything but letters,
    digits, '.', '_' and '-' become '-', and no leading or trailing '.' or '-' (so no '..')."""
    cleaned = _UNSAFE_ID.sub("-", text).strip(".-")[:MAX_ID_CHARS].strip(".-")
    return cleaned or "doc"


def doc_id_for_path(path: Path) -> str:
    """Slug of the stem plus a short hash of the resolved path, stable across runs."""
    return f"{slug(path.stem)}-{content_hash(str(path.resolve()))[:8]}"
