"""The core's exceptions translated once, by type, for both edges (the HTTP app and the CLI)."""
from __future__ import annotations

import re
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


INDEX_NAME = "MEDCITE_INDEX"  # how HTTP clients see the index directory: its setting, never its server path
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/-])/(?:[^\s/'\"()<>:;,]+/)*([^\s/'\"()<>:;,]+)")


def public_text(text: str, index_dir: str | Path) -> str:
    """A message for HTTP clients, without server paths: the index directory becomes MEDCITE_INDEX (so a
    generation's file reads MEDCITE_INDEX/gen-000003/store.sqlite), any other absolute path its last part."""
    forms = {str(Path(index_dir).resolve()), str(index_dir)} - {".", "/"}
    for form in sorted(forms, key=len, reverse=True):
        text = re.sub(rf"(?<![\w./-]){re.escape(form)}(?![\w-])", INDEX_NAME, text)
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), text)


def one_line(exc: BaseException) -> str:
    """Any failure as one line: the core's own message, else the exception's type and message."""
    if isinstance(exc, SELF_EXPLAINING):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
