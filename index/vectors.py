"""The FAISS vector index keyed by chunk rowid: exact inner product by default, HNSW by setting."""
from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

KINDS = ("flat", "hnsw")

# One query against ~30k vectors takes ~1.4 ms on one thread and ~3.9 ms with OpenMP's two (measured on
# MedQuAD); the service runs several queries at once on its own threads, so FAISS stays single-threaded.
faiss.omp_set_num_threads(1)
# HNSW graph settings (MEDCITE_VECTOR_INDEX=hnsw only; the default index is exact). Values inside the ranges
# the faiss wiki suggests (M 16-64, efSearch above k); not tuned on our data, recorded in each manifest.
HNSW_M = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 80  # candidate list while building
HNSW_EF_SEARCH = 128  # candidate list while searching: above the 100 candidates hybrid fusion asks for


def vector_index_kind(kind: str | None = None) -> str:
    """The argument (case-insensitive), else exact search ("flat"); refuses unknown kinds."""
    kind = (kind or "flat").lower()
    if kind not in KINDS:
        raise ValueError(f"unknown vector index {kind!r}: use one of {', '.join(KINDS)}")
    return kind


def new_index(dim: int, kind: str = "flat") -> faiss.Index:
    """An empty index of cosine (inner product of normalised vectors) keyed by int64 ids."""
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(inner)


def build_index(dim: int, kind: str, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """A fresh index holding these vectors (how HNSW handles deletes: rebuilt from stored vectors)."""
    index = new_index(dim, kind)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return index


def add(index: faiss.Index, ids: list[int], vectors: np.ndarray) -> None:
    """Add vectors under the given chunk rowids."""
    if ids:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: list[int]) -> int:
    """Remove the given rowids (exact index only); returns how many were removed."""
    if not ids:
        return 0
    return int(index.remove_ids(np.asarray(ids, dtype=np.int64)))


def save(index: faiss.Index, path: Path) -> None:
    """Write the index with FAISS's own format (no pickle) and fsync it."""
    faiss.write_index(index, str(path))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path) -> faiss.Index:
    """Read an index written by save()."""
    return faiss.read_index(str(path))


def search(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(rowid, cosine) of the k nearest vectors, restricted to `allowed` rowids when given."""
    if k <= 0 or index.ntotal == 0:
        return []
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    if allowed is None:
        scores, ids = index.search(q, k)
    else:
        if len(allowed) == 0:
            return []
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH) \
            if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW) else faiss.SearchParameters(sel=selector)
        scores, ids = index.search(q, min(k, len(allowed)), params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
