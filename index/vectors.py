"""The FAISS vector index keyed by chunk rowid: exact inner product by default, HNSW or IVF-PQ by setting.

`ivfpq` (compressed) keeps exact flat search while the corpus is small and, at the first commit with at
least `min_vectors` vectors, trains FAISS's IVF with product quantization on a seeded sample of them. A
compressed index is searched in `nprobe` of its lists and its best `refine_factor * k` candidates are
re-scored exactly from float16 copies of the vectors in `exact_vectors.npy` (sorted by id), read with pread:
a query reads only the rows it re-scores, and they stay in the page cache, out of the process's RSS. Unless
set, nprobe and refine_factor follow the index's size (search_defaults: more vectors per list, more re-scored).
IVF supports add_with_ids and remove_ids itself, so chunk rowids stay the vector ids through incremental
adds and deletes; the quantizers are trained once and new vectors are encoded with them.
"""
from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index.manifest import EXACT_VECTORS, VECTOR_IDS

KINDS = ("flat", "hnsw", "ivfpq")

# One query against ~30k vectors takes ~1.4 ms on one thread and ~3.9 ms with OpenMP's two (measured on
# MedQuAD); the service runs several queries at once on its own threads, so FAISS stays single-threaded.
faiss.omp_set_num_threads(1)
# HNSW graph settings (MEDCITE_VECTOR_INDEX=hnsw only; the default index is exact). Values inside the ranges
# the faiss wiki suggests (M 16-64, efSearch above k); not tuned on our data, recorded in each manifest.
HNSW_M = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 80  # candidate list while building
HNSW_EF_SEARCH = 128  # candidate list while searching: above the 100 candidates hybrid fusion asks for

# Below this many vectors an `ivfpq` index stays exact flat: 100k float32 vectors of 384 dims are 150 MB and
# brute force over them is a few ms, and training 1024 lists needs 39 x 1024 = 40k sample vectors anyway.
IVFPQ_MIN_VECTORS = 100_000
# Lists: about sqrt(n) (FAISS's guideline is 4-16 sqrt(n)), capped at 1024 because assigning 10M vectors to
# 1024 centroids is ~8e12 flops, minutes on this 2-core machine; a bigger build host can set a factory.
IVF_NLIST_MAX = 1024
IVF_NLIST_MIN = 64
# 48 sub-quantizers of 8 dims x 8 bits = 48 bytes per 384-dim vector (1,536 bytes in float32: 32x smaller).
PQ_M = 48
# FAISS's k-means warns below 39 training points per centroid; the PQ needs 39 x 256 points per sub-quantizer.
TRAIN_POINTS_PER_CENTROID = 39
PQ_CENTROIDS = 256
TRAIN_SEED = 1234
# Lists searched per query and candidates re-scored per result. A new manifest records None for both
# (unless MEDCITE_IVF_NPROBE / MEDCITE_IVF_REFINE_FACTOR were set at ingest): the index then uses
# search_defaults(), sized from its own lists and vectors each time it is opened, so the defaults follow the
# corpus as it grows. Manifests written before this record 32 and 8, which they keep.
NPROBE = None
REFINE_FACTOR = None
# nprobe: re-scoring 128 x k candidates of 32 lists reaches recall@10 0.907 (100k vectors in 256 lists), 0.948
# (1M in 1,024) and 0.968 (10M in 1,024), above the 0.90 the issue asks for; more lists cost time in proportion
# to the codes scanned (`python -m eval.bench_scale --recall-curve`; README "Scaling out").
NPROBE_DEFAULT = 32
# Re-scoring: 8 x k candidates while lists hold up to REFINE_LIST_VECTORS vectors, proportionally more above
# that (default_refine_factor). 8 x k was the measured default up to 1M vectors (977 a list: recall@10 0.914
# of the 0.948 that 128 x k reaches); the same 8 x k gave 0.772 at 10M (9,766 a list) and the rule's 79 x k 0.962.
REFINE_FACTOR_MIN = 8
REFINE_LIST_VECTORS = 1000
# A filter this small is searched exactly over the allowed rows' stored vectors instead of through IVF.
EXACT_FILTER_MAX = 20_000

EXACT_DTYPE = np.float16  # rows of EXACT_VECTORS, sorted by id; their ids (int64, ascending) in VECTOR_IDS


@dataclass(frozen=True)
class VectorSettings:
    """How vectors are indexed (writers) and searched (readers); None means the index's own choice."""

    kind: str | None = None
    nprobe: int | None = None
    refine_factor: int | None = None
    min_vectors: int = IVFPQ_MIN_VECTORS
    factory: str | None = None  # e.g. "IVF4096,PQ64"; default compressed_factory(n)

    def __post_init__(self):
        if self.kind is not None and self.kind.lower() not in KINDS:
            raise ValueError(f"unknown vector index {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.nprobe is not None and self.nprobe < 1:
            raise ValueError("nprobe must be at least 1")
        if (self.refine_factor or 0) < 0 or self.min_vectors < 0:
            raise ValueError("refine_factor and min_vectors must not be negative")


def vector_index_kind(kind: str | None = None) -> str:
    """The argument (case-insensitive), else exact search ("flat"); refuses unknown kinds."""
    kind = (kind or "flat").lower()
    if kind not in KINDS:
        raise ValueError(f"unknown vector index {kind!r}: use one of {', '.join(KINDS)}")
    return kind


def new_index(dim: int, kind: str = "flat") -> faiss.Index:
    """An empty index of cosine (inner product of normalised vectors) keyed by int64 ids.

    `ivfpq` starts flat: it is compressed by `compress` once it holds enough vectors to train on.
    """
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


def is_compressed(index: faiss.Index) -> bool:
    """True for an IVF index (the trained `ivfpq` form)."""
    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def describe(index: faiss.Index) -> str:
    """The FAISS factory string of an index's structure, e.g. "IVF1024,PQ48" or "IDMap2,Flat"."""
    if isinstance(index, faiss.IndexIDMap2):  # (read_index and new_index return the concrete class)
        inner = faiss.downcast_index(index.index)
        return f"IDMap2,HNSW{inner.hnsw.nb_neighbors(1)}" if isinstance(inner, faiss.IndexHNSW) else "IDMap2,Flat"
    ivf = faiss.downcast_index(index)
    if isinstance(ivf, faiss.IndexIVFPQ):
        bits = "" if ivf.pq.nbits == 8 else f"x{ivf.pq.nbits}"
        return f"IVF{ivf.nlist},PQ{ivf.pq.M}{bits}"
    return type(ivf).__name__


def compressed_factory(n: int, dim: int) -> str:
    """The default IVF-PQ factory for n vectors: ~sqrt(n) lists (power of two, capped), PQ_M sub-quantizers."""
    nlist = 2 ** round(math.log2(max(1.0, math.sqrt(n))))
    nlist = int(min(IVF_NLIST_MAX, max(IVF_NLIST_MIN, nlist)))
    m = PQ_M if dim % PQ_M == 0 else max(d for d in range(1, min(dim, PQ_M) + 1) if dim % d == 0)
    return f"IVF{nlist},PQ{m}"


def default_refine_factor(vectors_per_list: float) -> int:
    """Candidates re-scored per result when neither the settings nor the manifest say: REFINE_FACTOR_MIN for
    lists of up to REFINE_LIST_VECTORS vectors, in proportion to the vectors per list above that.

    Why in proportion: a query's true neighbours are lost when more than refine_factor x k other candidates of
    the probed lists get better compressed scores. Those are the vectors within the PQ error of the
    neighbours' scores, and at a fixed number of lists their count grows with the vectors per list (and so
    with the corpus once nlist stops growing at IVF_NLIST_MAX): keeping the re-scored share of the scanned
    candidates constant keeps recall (README "Scaling out" has the measured curves).
    """
    return max(REFINE_FACTOR_MIN, math.ceil(REFINE_FACTOR_MIN * vectors_per_list / REFINE_LIST_VECTORS))


def search_defaults(index: faiss.Index) -> tuple[int, int]:
    """(nprobe, refine_factor) for an index whose manifest leaves them to the rule: NPROBE_DEFAULT lists and
    default_refine_factor of this index's vectors per list (an uncompressed index uses neither)."""
    if not is_compressed(index):
        return NPROBE_DEFAULT, REFINE_FACTOR_MIN
    return NPROBE_DEFAULT, default_refine_factor(index.ntotal / max(1, faiss.extract_index_ivf(index).nlist))


def training_size(factory: str, n: int) -> int:
    """Sample size to train a factory on: enough for its lists and its PQ, at most n."""
    nlist = int(factory.split(",")[0].removeprefix("IVF").split("_")[0])
    return int(min(n, TRAIN_POINTS_PER_CENTROID * max(nlist, PQ_CENTROIDS)))


def training_rows(n: int, size: int, seed: int = TRAIN_SEED) -> np.ndarray:
    """Positions (ascending) of a seeded uniform sample of `size` of n vectors."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(size, n), replace=False))


def train_compressed(dim: int, factory: str, sample: np.ndarray) -> faiss.Index:
    """An empty IVF-PQ index (inner product) trained on the sample vectors."""
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    if not isinstance(faiss.downcast_index(index), faiss.IndexIVF):
        raise ValueError(f"vector index factory {factory!r} is not an IVF index")
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed = TRAIN_SEED  # the same sample gives the same lists and codes on every run
    pq = faiss.downcast_index(index)
    if isinstance(pq, faiss.IndexIVFPQ):
        pq.pq.cp.seed = TRAIN_SEED
        pq.do_polysemous_training = False  # minutes of training for Hamming filtering that search does not use
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def add(index: faiss.Index, ids: list[int], vectors: np.ndarray) -> None:
    """Add vectors under the given chunk rowids."""
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: list[int]) -> int:
    """Remove the given rowids (flat or IVF index); returns how many were removed."""
    if not len(ids):
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


# --- exact copies of a compressed index's vectors --------------------------------------------------------


class ExactVectors:
    """float16 copies of the vectors with their ids (ascending).

    Saved copies are read with os.pread, row by row (adjacent rows in one read), not memory-mapped: the rows a
    query re-scores stay in the page cache, shared by every process, but never enter this process's RSS. (A
    mapping counts every mapped page-cache page as resident, and this kernel maps them in large folios: at 10M
    vectors, re-scoring 200 questions' candidates mapped 4.5 GB of the 7.7 GB file, MADV_RANDOM or not.)
    """

    def __init__(self, ids: np.ndarray, matrix: np.ndarray | None = None, path: Path | None = None):
        self.ids = ids
        self._matrix = matrix  # rows in memory (or None: read from `path`)
        self._path = path
        if path is not None:
            self._file = open(path, "rb", buffering=0)  # closed when the last user drops this object
            if hasattr(os, "posix_fadvise"):  # rows are read at random: no read-ahead of their neighbours
                os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
            version = np.lib.format.read_magic(self._file)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(self._file)
            if len(shape) != 2 or fortran:
                raise ValueError(f"{path} is not a row-major matrix")
            self.dtype, self.dim, self._offset = np.dtype(dtype), int(shape[1]), self._file.tell()
            rows = int(shape[0])
        else:
            self.dtype, self.dim, rows = matrix.dtype, int(matrix.shape[1]), len(matrix)
        if len(ids) != rows:
            raise ValueError(f"{len(ids)} vector ids for {rows} exact vectors")
        self._row_bytes = self.dim * self.dtype.itemsize
        # rows fewer than a page apart are read together: one read of a little more beats two system calls
        self._gap_rows = max(1, mmap.PAGESIZE // max(1, self._row_bytes))

    @classmethod
    def load(cls, gen_dir: Path) -> "ExactVectors":
        """The generation's exact vectors: ids memory-mapped (8 bytes a vector), rows read when asked for."""
        return cls(np.load(gen_dir / VECTOR_IDS, mmap_mode="r", allow_pickle=False), path=gen_dir / EXACT_VECTORS)

    @property
    def matrix(self) -> np.ndarray:
        """Every row (memory-mapped for saved copies): for a writer copying them into the next generation."""
        if self._matrix is None:
            return np.load(self._path, mmap_mode="r", allow_pickle=False)
        return self._matrix

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id (every id must be stored)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        if len(ids) and (pos.max() >= len(self.ids) or not np.array_equal(self.ids[pos], ids)):
            raise KeyError("vector id without an exact vector")
        return pos

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The stored rows (float16) at these positions, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        if self._matrix is not None:
            return np.asarray(self._matrix[positions])
        out = np.empty((len(positions), self.dim), self.dtype)
        if not len(positions):
            return out
        order = np.argsort(positions, kind="stable")  # ascending reads
        pos = positions[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(pos) > self._gap_rows) + 1])
        ends = np.append(starts[1:], len(pos))
        first = pos[starts]
        count = pos[ends - 1] - first + 1  # rows of each run of nearby positions: one read each
        fd, pread = self._file.fileno(), os.pread
        data = b"".join([pread(fd, size, at) for size, at in
                         zip((count * self._row_bytes).tolist(), (self._offset + first * self._row_bytes).tolist())])
        if len(data) != int(count.sum()) * self._row_bytes:
            raise OSError(f"{self._path}: short read (file truncated?)")
        run = np.repeat(np.arange(len(starts)), ends - starts)  # the run each position was read in
        at = (np.cumsum(count) - count)[run] + pos - first[run]  # its row in the joined reads
        out[order] = np.frombuffer(data, self.dtype).reshape(-1, self.dim)[at]
        return out

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """float32 vectors of those ids, in that order."""
        return self.rows(self.positions(ids)).astype(np.float32)

    def scores(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosine of the query with each id's stored vector."""
        return self.vectors(ids) @ query.astype(np.float32).reshape(-1)


def save_exact(path_dir: Path, parts: list[tuple[np.ndarray, np.ndarray]], dim: int) -> int:
    """Write exact_vectors.npy + vector_ids.npy from (ids, vectors) parts with ascending ids; returns rows."""
    n = sum(len(ids) for ids, _ in parts)
    ids_out = np.lib.format.open_memmap(path_dir / VECTOR_IDS, mode="w+", dtype=np.int64, shape=(n,))
    mat_out = np.lib.format.open_memmap(path_dir / EXACT_VECTORS, mode="w+", dtype=EXACT_DTYPE, shape=(n, dim))
    at = 0
    for ids, vecs in parts:
        ids_out[at:at + len(ids)] = ids
        mat_out[at:at + len(ids)] = vecs
        at += len(ids)
    if n > 1 and not np.all(np.diff(ids_out) > 0):
        raise ValueError("exact vector ids must be ascending and unique")
    ids_out.flush()
    mat_out.flush()
    del ids_out, mat_out
    return n


# --- search -----------------------------------------------------------------------------------------------


def search(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
           nprobe: int = NPROBE_DEFAULT, exact: ExactVectors | None = None,
           refine_factor: int = REFINE_FACTOR_MIN) -> list[tuple[int, float]]:
    """(rowid, cosine) of the k nearest vectors, restricted to `allowed` rowids when given.

    A compressed index searches `nprobe` lists and re-scores its best refine_factor * k candidates
    exactly (when `exact` is given), so the returned scores are cosines of the stored vectors.
    """
    if k <= 0 or index.ntotal == 0:
        return []
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    compressed = is_compressed(index)
    if allowed is not None and len(allowed) == 0:
        return []
    if compressed and exact is not None and allowed is not None and len(allowed) <= EXACT_FILTER_MAX:
        return _exact_over(exact, q, k, np.asarray(allowed, dtype=np.int64))
    n = k * refine_factor if compressed and exact is not None and refine_factor > 1 else k
    selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)) if allowed is not None else None
    if compressed:
        params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector) if selector else \
            faiss.SearchParametersIVF(nprobe=nprobe)
    elif selector is None:
        params = None
    elif isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
    else:
        params = faiss.SearchParameters(sel=selector)
    if allowed is not None:
        n = min(n, len(allowed))
    scores, ids = index.search(q, min(n, index.ntotal), params=params) if params else index.search(q, n)
    found = ids[0][ids[0] >= 0]
    if compressed and exact is not None and n > k:
        return _best(found, exact.scores(q, found), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def _exact_over(exact: ExactVectors, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
    """Exact search over the allowed ids that are stored."""
    allowed = np.unique(allowed)
    stored = allowed[np.isin(allowed, exact.ids)]
    return _best(stored, exact.scores(q, stored), k)


def _best(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k highest (id, score) pairs, best first, ties by id."""
    order = np.lexsort((ids, -scores))[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]
