"""The one exception of ingest: a file (or a record in it) that could not be read."""
from __future__ import annotations


class ReadError(Exception):
    """A file could not be turned into documents; `reason` is one readable line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
