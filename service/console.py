"""Ingest progress on a terminal: tqdm bars (files, embedded chunks) and one FAILED line per failure."""
from __future__ import annotations

import sys
from typing import TextIO


class ConsoleProgress:
    """An IngestProgress (service/pipeline.py) that draws bars when asked and always prints failures."""

    def __init__(self, bars: bool = True, stream: TextIO | None = None):
        self.bars = bars
        self.stream = stream
        self._files = self._chunks = None

    def _out(self) -> TextIO:
        """The stream to write to (stderr unless given; looked up late so tests can capture it)."""
        return self.stream or sys.stderr

    def started(self, files: int) -> None:
        """Open the two bars."""
        from tqdm import tqdm

        self._files = tqdm(total=files, unit="file", desc="files", disable=not self.bars, file=self._out(),
                           dynamic_ncols=True, position=0)
        self._chunks = tqdm(unit="chunk", desc="embedded", disable=not self.bars, file=self._out(),
                            dynamic_ncols=True, position=1)

    def file_done(self) -> None:
        """One more file read."""
        self._files.update(1)

    def embedded(self, chunks: int) -> None:
        """More chunks embedded and written."""
        self._chunks.update(chunks)

    def failed(self, location: str, reason: str) -> None:
        """One `FAILED location: reason` line, as README.md promises."""
        print(f"FAILED {location}: {reason}", file=self._out(), flush=True)

    def finished(self) -> None:
        """Close the bars."""
        for bar in (self._chunks, self._files):
            if bar is not None:
                bar.close()
