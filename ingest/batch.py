"""Reading many files in one ingest run: isolated formats in a killable worker, the rest in-process."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.errors import ReadError
from ingest.readers import ISOLATED_SUFFIXES, MAX_BYTES, MAX_PAGES, ReadResult, read_file_guarded
from ingest.worker import IsolatedReader

__all__ = ["read_many", "read_file_isolated", "READ_TIMEOUT_S", "READ_MEMORY_MB"]

# Wall-clock seconds and memory (MB above the worker's own) one isolated file may use. Set when the worker
# was written, not tuned; the hostile-file tests (tests/test_ingest_hostile_files.py) show a runaway parser
# is stopped by them.
READ_TIMEOUT_S = 30
READ_MEMORY_MB = 1024


def read_file_isolated(path: str | Path, timeout_s: float = READ_TIMEOUT_S, memory_mb: int = READ_MEMORY_MB,
                       max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES) -> ReadResult:
    """read_file in a worker process that is killed after timeout_s or beyond memory_mb."""
    with IsolatedReader(timeout_s=timeout_s, memory_mb=memory_mb, max_bytes=max_bytes,
                        max_pages=max_pages) as reader:
        return reader.read(path)


def read_many(paths: Iterable[str | Path], timeout_s: float = READ_TIMEOUT_S, memory_mb: int = READ_MEMORY_MB,
              max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES,
              isolate: Iterable[str] = ISOLATED_SUFFIXES) -> Iterator[tuple[Path, ReadResult | ReadError]]:
    """(path, ReadResult or ReadError) for each file, in order; one persistent worker serves the
    isolated formats and is restarted only after it had to be killed."""
    isolate = {s.lower() for s in isolate}
    with IsolatedReader(timeout_s=timeout_s, memory_mb=memory_mb, max_bytes=max_bytes,
                        max_pages=max_pages) as worker:
        for raw in paths:
            path = Path(raw)
            try:
                if path.suffix.lower() in isolate:
                    yield path, worker.read(path)
                else:
                    yield path, read_file_guarded(path, max_bytes=max_bytes, max_pages=max_pages)
            except ReadError as exc:
                yield path, exc
