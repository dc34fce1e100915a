"""Markdown and plain text, with optional YAML front matter for metadata."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingest.documents import Document, Section
from ingest.errors import ReadError
from ingest.metadata import MetaLayer, doc_id_for_path, filename_layer, layer_from_mapping, merge_meta, read_sidecar

MAX_FRONT_MATTER_CHARS = 64 * 1024  # bibliographic fields fit in a few hundred bytes; 64 KB is generous


class FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: `*name` is refused, so nested aliases (a "billion laughs")
    cannot expand a few hundred bytes into gigabytes. Metadata never needs them."""

    def compose_node(self, parent, index):  # noqa: D102 - yaml.composer.Composer
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter",
                                              event.start_mark)
        return super().compose_node(parent, index)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or a ReadError naming the first bad byte; never a silent guess."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise ReadError(f"not valid UTF-8 text (byte 0x{bad:02x} at offset {exc.start})") from exc


def split_front_matter(text: str) -> tuple[dict, str]:
    """(front matter mapping, the rest of the text)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    if len(m.group(1)) > MAX_FRONT_MATTER_CHARS:
        raise ReadError(f"YAML front matter is longer than {MAX_FRONT_MATTER_CHARS:,} characters")
    try:
        raw = yaml.load(m.group(1), Loader=FrontMatterLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ReadError(f"invalid YAML front matter: {' '.join(str(exc).split())}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ReadError("YAML front matter is not a mapping")
    return raw, text[m.end():]


def markdown_sections(text: str) -> tuple[list[Section], str]:
    """Sections between ATX headings (heading lines excluded) and the first level-1 heading."""
    sections: list[Section] = []
    heading, body_start, first_h1, in_fence, pos = "", 0, "", False, 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if _FENCE.match(stripped):
            in_fence = not in_fence
        m = None if in_fence else _ATX_HEADING.match(stripped)
        if m:
            _append_section(sections, text, heading, body_start, pos)
            heading = m.group(2).strip()
            if m.group(1) == "#" and not first_h1:
                first_h1 = heading
            body_start = pos + len(line)
        pos += len(line)
    _append_section(sections, text, heading, body_start, len(text))
    return sections, first_h1


def _append_section(sections: list[Section], text: str, heading: str, start: int, end: int) -> None:
    """Record text[start:end] under heading, trimmed, unless it is blank."""
    body = text[start:end]
    if not body.strip():
        return
    lead = len(body) - len(body.lstrip())
    trail = len(body) - len(body.rstrip())
    sections.append(Section(heading=heading, start=start + lead, end=end - trail))


def read_text_file(path: Path, data: bytes, source_hash: str, markdown: bool) -> list[Document]:
    """One Document; markdown is split at its headings, plain text is one section."""
    front, body = split_front_matter(decode_text(data))
    if markdown:
        sections, first_h1 = markdown_sections(body)
    else:
        sections = []
        _append_section(sections, body, "", 0, len(body))
        first_h1 = ""
    if not sections:
        raise ReadError("no text")
    layers = [layer_from_mapping(front), read_sidecar(path),
              MetaLayer({"title": first_h1} if first_h1 else {}), filename_layer(path)]
    return [Document(doc_id=doc_id_for_path(path), source=str(path), text=body, meta=merge_meta(layers),
                     sections=tuple(sections), content_hash=source_hash)]
