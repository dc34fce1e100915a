"""The index's domain exceptions; the CLI and HTTP edges translate them to exit codes and statuses."""
from __future__ import annotations


class IndexError_(Exception):
    """Base of every index failure; the message is one readable line that names the fix."""


class IndexNotFound(IndexError_):
    """There is no index at the given directory yet."""


class IndexMismatch(IndexError_):
    """The index was built with another model, dimension or format version than the caller's."""


class IndexCorrupt(IndexError_):
    """An index file fails its checksum or the stores disagree; it must never be served."""


class IndexLocked(IndexError_):
    """Another ingest holds the index's write lock."""


class DiskFull(IndexError_):
    """A write ran out of disk space (or quota); the new generation was discarded and nothing changed."""


MedciteIndexError = IndexError_
