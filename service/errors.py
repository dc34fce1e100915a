"""The core's exceptions translated once, by type, for both edges (the HTTP app and the CLI)."""
from __future__ import annotations

from pathlib import Path

from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from ingest.errors import ReadError

# Exceptions whose message is already one readable line for a user (it names the fix).
SELF_EXPLAINING = (IndexNotFound, IndexCorrupt, IndexMismatch, ReadError)


def index_unavailable(exc: BaseException, index_dir: str | Path) -> str:
    """Why the index at index_dir cannot be served or searched, in one line that names the fix."""
    if isinstance(exc, IndexNotFound):
        return f"no index at {index_dir}: run `medcite ingest` first"
    if isinstance(exc, IndexCorrupt):
        return f"index at {index_dir} is corrupt ({exc}): rebuild it with `medcite ingest`"
    if isinstance(exc, IndexMismatch):
        return f"index at {index_dir} does not match the model: {exc}"
    return f"index at {index_dir} could not be opened: {type(exc).__name__}: {exc}"


def one_line(exc: BaseException) -> str:
    """Any failure as one line: the core's own message, else the exception's type and message."""
    if isinstance(exc, SELF_EXPLAINING):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
