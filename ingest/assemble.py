"""Build a document's text from parts while recording where each section's body lies."""
from __future__ import annotations

from ingest.documents import Section


class TextBuilder:
    """Appends text parts and remembers Section spans, so offsets are right by construction."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.sections: list[Section] = []

    def add(self, text: str, sep: str = "\n\n") -> tuple[int, int]:
        """Append text (after sep unless it is the first part); return its span."""
        if self._parts:
            self._parts.append(sep)
            self._length += len(sep)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start, self._length

    def add_section(self, heading: str, body: str, page: int | None = None, sep: str = "\n\n") -> None:
        """Append a section body and record it; empty bodies are not sections."""
        if not body.strip():
            return
        start, end = self.add(body, sep)
        self.sections.append(Section(heading=heading, start=start, end=end, page=page))

    @property
    def text(self) -> str:
        """The text built so far."""
        return "".join(self._parts)


def squash_lines(text: str) -> str:
    """Collapse spaces inside lines, drop indentation, keep paragraphs apart by one blank line."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        squashed = " ".join(line.split())
        if squashed:
            paragraphs[-1].append(squashed)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\n".join(p) for p in paragraphs if p)
