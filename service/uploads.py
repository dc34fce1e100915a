"""Uploaded files: stored privately and atomically under <index>/uploads and ingested under the caller's
write lock; a failed upload leaves the earlier upload of the same name (file and sidecar) as it was.

On disk: `<name>` and its `<name>.meta.json` sidecar per upload (0600, in a 0700 directory). While an upload
is in progress the new content waits in `.incoming-*` and the earlier file of the same name is kept as a
hard link `.previous-<name>`; recover() settles what a crash left behind.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from index.errors import DiskFull
from ingest.documents import IngestReport

UPLOADS = "uploads"
FILE_MODE = 0o600  # uploads may hold patient data: readable by the service's user only
DIR_MODE = 0o700
INCOMING = ".incoming-"
PREVIOUS = ".previous-"
SIDECAR = ".meta.json"
COPY_BLOCK = 1 << 20  # bytes copied per read from the request's spooled file


class UploadRefused(Exception):
    """The file could not be read as a document (the reason says why)."""


class UploadConflict(Exception):
    """The file's document id is held by another source's document, which is left untouched."""

    def __init__(self, doc_id: str, holder: str):
        super().__init__(f"document id {doc_id!r} already belongs to {holder}: rename the file, or delete "
                         f"that document first")
        self.doc_id, self.holder = doc_id, holder


def uploads_dir(index_dir: Path) -> Path:
    """The private directory of stored uploads (created 0700)."""
    path = Path(index_dir) / UPLOADS
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def public_source(name: str) -> str:
    """The source an uploaded file's documents show: relative to the index, never a server path."""
    return f"{UPLOADS}/{name}"


def _stage(directory: Path, data: BinaryIO | bytes) -> Path:
    """Write data to a new private file in directory, fsynced; returns its path (removed on failure)."""
    fd, name = tempfile.mkstemp(prefix=INCOMING, dir=directory)  # mkstemp creates it 0600
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                shutil.copyfileobj(data, out, COPY_BLOCK)
            out.flush()
            os.fsync(out.fileno())
    except BaseException as exc:
        path.unlink(missing_ok=True)
        _raise_if_disk_full(exc)
        raise
    return path


def _raise_if_disk_full(exc: BaseException) -> None:
    """DiskFull for an out-of-space OSError, so the caller answers 507 instead of 500."""
    from index.build import is_disk_full

    if is_disk_full(exc):
        raise DiskFull("no space left on the index's disk: the upload was not stored, free some space and retry") \
            from exc


def _set_aside(path: Path) -> Path | None:
    """Keep the current file at path as a hard link `.previous-<name>` (None when there is none)."""
    if not path.exists():
        return None
    backup = path.with_name(PREVIOUS + path.name)
    backup.unlink(missing_ok=True)
    os.link(path, backup)
    return backup


def _put_back(path: Path, backup: Path | None) -> None:
    """Undo a replacement: the earlier file returns to path, or path is removed when there was none."""
    if backup is not None:
        os.replace(backup, path)
    else:
        path.unlink(missing_ok=True)


def store_and_ingest(index_dir: Path, name: str, data: BinaryIO, meta: Mapping | None, ingest) -> IngestReport:
    """Store an upload as `<name>` (replacing an earlier one) and ingest it; on any failure the earlier
    file and sidecar are back as they were. `ingest(path, source)` returns the run's IngestReport.
    The caller holds the index write lock."""
    directory = uploads_dir(index_dir)
    target = directory / name
    sidecar = target.with_name(name + SIDECAR)
    staged = [_stage(directory, data)]
    try:
        if meta:
            staged.append(_stage(directory, json.dumps(dict(meta)).encode("utf-8")))
        backups = (_set_aside(target), _set_aside(sidecar))
        try:
            os.replace(staged[0], target)
            if meta:
                os.replace(staged[1], sidecar)
            else:
                sidecar.unlink(missing_ok=True)
            report = ingest(target, public_source(name))
            _check(report)
        except BaseException as exc:
            _put_back(target, backups[0])
            _put_back(sidecar, backups[1])
            _raise_if_disk_full(exc)
            raise
        for backup in backups:
            if backup is not None:
                backup.unlink(missing_ok=True)
        return report
    finally:
        for path in staged:
            path.unlink(missing_ok=True)


def _check(report: IngestReport) -> None:
    """Raise UploadConflict or UploadRefused when the ingest did not take the file."""
    if report.conflicts:
        _, doc_id, holder = report.conflicts[0]
        raise UploadConflict(doc_id, holder)
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise UploadRefused("; ".join(reason for _, reason in report.failed))


def remove_unused(index_dir: Path, name: str, sources: set[str]) -> None:
    """Delete an uploaded file and its sidecar once no served document comes from it."""
    if public_source(name) in sources:
        return
    directory = Path(index_dir) / UPLOADS
    (directory / name).unlink(missing_ok=True)
    (directory / (name + SIDECAR)).unlink(missing_ok=True)


def recover(index_dir: Path, indexed: Mapping[str, str], change_key) -> list[str]:
    """Settle what a crash mid-upload left in the uploads directory; returns the names removed or restored.

    `indexed` maps the absolute path of every file in the index to its recorded change key, and
    `change_key(path)` computes a file's key now. Half-written `.incoming-*` files go; a `.previous-<name>`
    goes back into place unless the index already holds the new `<name>`; an upload no index record
    refers to (stored but never committed) goes with its sidecar. Call it under the write lock."""
    directory = Path(index_dir) / UPLOADS
    if not directory.is_dir():
        return []
    settled = []
    backups = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(INCOMING):
            path.unlink(missing_ok=True)
            settled.append(path.name)
        elif path.name.startswith(PREVIOUS):
            backups.append(path)
    # Decide before moving anything: was the new content of each interrupted upload committed?
    names = {_upload_name(b.name[len(PREVIOUS):]) for b in backups}
    committed = {n: (directory / n).is_file() and indexed.get(str((directory / n).resolve())) == change_key(directory / n)
                 for n in names}
    for backup in backups:
        current = directory / backup.name[len(PREVIOUS):]
        if committed[_upload_name(current.name)]:
            backup.unlink()
        else:
            os.replace(backup, current)
        settled.append(backup.name)
    for path in sorted(directory.iterdir()):
        upload = directory / _upload_name(path.name)
        if path.is_file() and str(upload.resolve()) not in indexed:
            path.unlink()
            settled.append(path.name)
    return settled


def _upload_name(name: str) -> str:
    """The upload a stored file belongs to: itself, or the file a sidecar describes."""
    return name.removesuffix(SIDECAR)
