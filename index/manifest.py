"""One index directory = generations + a CURRENT pointer; each generation has a JSON manifest.

Layout: INDEX_DIR/CURRENT names the live generation (gen-NNNNNN); INDEX_DIR/gen-NNNNNN/ holds
store.sqlite, vectors.faiss, bm25.npz, sentences.npy and manifest.json (written last, with sha256 checksums of
the others).
Every switch is write tmp + fsync + rename + fsync(dir), so a reader sees the old state or the new one.
A reader pins the generation it opened (a shared flock on its manifest, held until it closes), and garbage
collection skips pinned generations, so a generation stays on disk until its last reader is done, in this
process or any other; the lock dies with its process, so a crashed reader never pins for ever.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound

# 2: every generation holds sentence spans (store.sqlite) and sentence vectors (sentences.npy); a version-1
# index has neither, so it is refused with the fix (re-run `medcite ingest`) rather than answered without them.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
STORE = "store.sqlite"
VECTORS = "vectors.faiss"
POSTINGS = "bm25.npz"  # optional: generations written before it existed lack it
SENTENCES = "sentences.npy"
EXACT_VECTORS = "exact_vectors.npy"  # compressed (ivfpq) generations only: float16 vectors for re-scoring
VECTOR_IDS = "vector_ids.npy"  # ... and their ids
DATA_FILES = (STORE, VECTORS, POSTINGS, SENTENCES, EXACT_VECTORS, VECTOR_IDS)
OPTIONAL_FILES = (POSTINGS, EXACT_VECTORS, VECTOR_IDS)
CURRENT = "CURRENT"
LOCK = ".lock"
_GEN = re.compile(r"^gen-(\d{6})$")


# The index directory when none is given: git-ignored, relative to the working directory (MEDCITE_INDEX and
# --index override it at the edges).
DEFAULT_INDEX_DIR = Path(".medcite/index")


def fsync_path(path: Path) -> None:
    """fsync a file or a directory, so a following rename cannot outlive its contents."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace path with text: write a tmp file, fsync it, rename over, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generation_name(number: int) -> str:
    """gen-000001 for 1."""
    return f"gen-{number:06d}"


def generation_numbers(index_dir: Path) -> list[int]:
    """Numbers of every gen-* directory present, committed or not, ascending."""
    if not index_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in index_dir.iterdir() if (m := _GEN.match(p.name)) and p.is_dir())


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory named by CURRENT, or None when no ingest has committed."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not _GEN.match(name):
        raise IndexCorrupt(f"{pointer} names {name!r}, not a generation: delete {index_dir} and re-run `medcite ingest`")
    return index_dir / name


def switch_current(index_dir: Path, gen_dir: Path) -> None:
    """Atomically make gen_dir the live generation."""
    atomic_write_text(index_dir / CURRENT, gen_dir.name + "\n")


def write_manifest(gen_dir: Path, manifest: dict) -> dict:
    """Fill in checksums of the data files and write manifest.json atomically (last file of a generation)."""
    manifest = dict(manifest, format_version=FORMAT_VERSION,
                    checksums={name: sha256_file(gen_dir / name) for name in DATA_FILES
                               if name not in OPTIONAL_FILES or (gen_dir / name).is_file()})
    atomic_write_text(gen_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def read_manifest(gen_dir: Path) -> dict:
    """The manifest of a committed generation, after checking its format version."""
    path = gen_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{path} is missing: re-run `medcite ingest`") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc}): re-run `medcite ingest`") from exc
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatch(f"index format version {version} at {gen_dir.parent} is not the supported "
                            f"version {FORMAT_VERSION}: delete {gen_dir.parent} and re-run `medcite ingest`")
    return manifest


def verify_checksums(gen_dir: Path, manifest: dict) -> None:
    """Raise IndexCorrupt naming the first data file whose sha256 differs from the manifest's."""
    for name, expected in sorted(manifest.get("checksums", {}).items()):
        path = gen_dir / name
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing: re-run `medcite ingest`")
        if sha256_file(path) != expected:
            raise IndexCorrupt(f"{path} fails its checksum (corrupted): delete {gen_dir.parent} and re-run `medcite ingest`")


def live_generation(index_dir: Path) -> Path:
    """The live generation, or IndexNotFound with the command that creates one."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexNotFound(f"no index at {index_dir}: run `medcite ingest` first")
    if not gen.is_dir():
        raise IndexCorrupt(f"{index_dir / CURRENT} names missing {gen.name}: re-run `medcite ingest`")
    return gen


class GenerationPin:
    """A shared lock on a generation's manifest: garbage collection keeps the generation while it is held.
    Released by release(), or when the pin is garbage collected, so a forgotten reader cannot pin for ever."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.release()


def pin_generation(gen_dir: Path) -> GenerationPin | None:
    """Pin a committed generation against garbage collection, or None when it was collected before it
    could be pinned (then open the live one again)."""
    try:
        fd = os.open(gen_dir / MANIFEST, os.O_RDONLY)
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a collector is deleting this very generation
    if os.fstat(fd).st_nlink == 0:  # it was: the manifest is gone
        os.close(fd)
        return None
    return GenerationPin(fd)


def _remove_generation(gen_dir: Path) -> bool:
    """Delete a generation unless a reader has it pinned; True when it is gone."""
    try:
        fd = os.open(gen_dir / MANIFEST, os.O_RDONLY)
    except FileNotFoundError:  # never committed: nobody can have opened it
        shutil.rmtree(gen_dir, ignore_errors=True)
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # The manifest goes first, so a reader that was waiting for the lock sees a collected generation.
        (gen_dir / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(gen_dir, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def collect_garbage(index_dir: Path, keep_previous: int = 1) -> None:
    """Delete generations other than the live one and the `keep_previous` committed ones before it,
    except those a reader still has pinned (a later collection removes them).

    Only a writer holding the lock calls this, so an uncommitted directory is a dead ingest's leftover.
    """
    live = current_generation(index_dir)
    live_n = int(live.name[4:]) if live else None
    older = [n for n in generation_numbers(index_dir) if live_n is not None and n < live_n
             and (index_dir / generation_name(n) / MANIFEST).is_file()]
    keep = {live_n, *older[-keep_previous:]} if keep_previous else {live_n}
    for n in generation_numbers(index_dir):
        if n not in keep:
            _remove_generation(index_dir / generation_name(n))
    for tmp in index_dir.glob(f".{CURRENT}.tmp-*"):
        tmp.unlink(missing_ok=True)
