"""FTS5's BM25, scored from in-memory postings: the same numbers as bm25(chunks_fts, ...) in a fraction of the time.

An FTS5 OR-query scores every row that contains any query term through SQLite's auxiliary-function
API; for "What are the symptoms of X?" over MedQuAD that is ~10k rows and ~10 ms per question, the
largest single cost of an answer. Here the writer exports what FTS5's bm25() reads (the tokens
FTS5 itself produced, their column-weighted frequency per row, each row's length) into arrays kept
next to the store; a query then adds up a few numpy slices. The formula, the constants and the
order of the additions are FTS5's (fts5_aux.c, fts5Bm25Function), so the scores are equal, not
close: tests/test_bm25_postings.py compares them with ==.

The file is derived data: it is rebuilt (incrementally) by every commit and checksummed with the
generation; an index written before it existed is searched through FTS5 as before.

A query reads only its terms' postings and the lengths of the rows they name, so once the arrays are
memory-mapped (files of at least `mmap_bytes`, see Postings.load) the resident memory grows with the queries,
not with the corpus; the vocabulary (a dict of terms) stays in RAM, and a query with many postings scores in
a transient scratch array of 9 bytes per row (SPARSE_FRACTION).

Top-k with dynamic pruning (MaxScore; Turtle & Flood 1995): every term has an upper bound on what it can add
to a row's score (its idf times the largest length-normalised frequency among its postings, `wmax`, stored in
the file). A first pass scores exactly the best-looking rows of the highest-bound terms, and the k-th of those
scores (theta) is a lower bound of the final k-th score. The terms whose bounds add up to less than theta
cannot bring a row into the top k on their own ("non-essential"): only rows that hold an essential term are
candidates, and a candidate whose partial score plus the bounds of the terms not yet looked up falls below
theta is dropped before its postings in the long (frequent-term) lists are looked up, by binary search. The
rows left are scored exactly as the exhaustive path scores them (same expression, phrases added in query order
from 0.0), so the top k, ids and scores, is the exhaustive one to the bit, ties included
(tests/test_bm25_pruning.py); the pruning compares with a relative slack of 1e-9, far above float error.
"""
from __future__ import annotations

import math
import sqlite3
import struct
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.bm25 import COLUMN_WEIGHTS, TOKENIZE, query_terms

K1, B = 1.2, 0.75  # FTS5's constants
# Postings files from this size on are memory-mapped instead of read: MedQuAD's 26k chunks give a file of
# ~20 MB (read in well under a second), 1M chunks ~1 GB, which should live in the page cache, not in every
# serving process's heap.
MMAP_BYTES = 64 * 1024 * 1024
# Scores live in a sparse array of the touched rows when a query's postings are under 1/16 of the rows (sorting
# them is then cheaper than a scratch array over every row), else in a scratch array over all rows (measured
# on the 1M-chunk synthetic index: 226 ms sparse vs 20 ms scratch for a median 155k postings per question).
SPARSE_FRACTION = 16
# Queries with fewer postings than this are scored exhaustively (pruning would save nothing measurable).
PRUNE_POSTINGS = 20_000
# Relative slack of the pruning tests: a row is dropped only when its bound is below theta * (1 - SLACK).
SLACK = 1e-9
# Rows of each high-bound term scored in the first pass (times k), to set theta.
SEED_FACTOR = 2
SEED_SCAN = 16_384
# A term's scores in some candidate rows are found by binary search in its postings when the candidates are
# fewer than its postings / LOOKUP_COST, else by scattering all its postings (a binary search costs ~20 of them).
LOOKUP_COST = 20
# Queries whose essential terms hold more than 1/ESSENTIAL_SHARE of their postings are scored exhaustively.
ESSENTIAL_SHARE = 2
_COLUMNS = ("title", "heading", "text")


@dataclass(frozen=True)
class Postings:
    """Column-weighted term frequencies of every FTS5 row, grouped by term.

    rows: every FTS5 rowid, ascending; doclen[i]: tokens in row rows[i] (all columns), as FTS5 counts them.
    Term t's postings are pos[ptr[t]:ptr[t+1]] (indexes into rows) with frequencies freq[ptr[t]:ptr[t+1]].
    """

    terms: tuple[str, ...]
    ptr: np.ndarray  # int64, len(terms) + 1
    pos: np.ndarray  # int32
    freq: np.ndarray  # float64: sums of column weights, exact in binary
    rows: np.ndarray  # int64
    doclen: np.ndarray  # int64
    # per term, the largest (f * (k1 + 1)) / (f + norm(row)) over its postings (a term's score bound is idf
    # times it); None: computed per term when first needed (files written before it was stored)
    wmax: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "_term_ids", {t: i for i, t in enumerate(self.terms)})
        total = int(self.doclen.sum())
        object.__setattr__(self, "_avgdl", float(total) / float(len(self.rows)) if total else 1.0)  # 0 tokens: no match
        object.__setattr__(self, "_wmax_cache", {})

    def _norm(self, pos: np.ndarray) -> np.ndarray:
        """The length normalisation k1 * (1 - b + b * D / avgdl) of those rows, evaluated as FTS5 does."""
        return K1 * (1 - B + B * self.doclen[pos].astype(np.float64) / self._avgdl)

    def _weights(self, f: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(f * (k1 + 1)) / (f + norm(row)) of postings: a term's score in those rows, over its idf."""
        return (f * (K1 + 1.0)) / (f + self._norm(pos))

    def _idf(self, df: int) -> float:
        """fts5Bm25Function's idf of a term held by df of the rows (floored at 1e-6)."""
        n = len(self.rows)
        idf = math.log((n - df + 0.5) / (df + 0.5))
        return idf if idf > 0.0 else 1e-6

    def search(self, phrases: list[str], k: int, allowed: np.ndarray | None = None,
               prune: bool | None = None) -> list[tuple[int, float]]:
        """(rowid, score) of the k best rows for an OR of single-token phrases; ties by rowid.

        prune: True always uses MaxScore pruning, False always adds up every posting, None (the default)
        prunes when the query has at least PRUNE_POSTINGS postings. Both give the same list.
        """
        n = len(self.rows)
        if k <= 0 or not phrases or n == 0:
            return []
        ids = [self._term_ids.get(p) for p in phrases]
        hits = [(int(self.ptr[i]), int(self.ptr[i + 1])) if i is not None else (0, 0) for i in ids]
        if not any(e > s for s, e in hits):
            return []
        if prune or (prune is None and sum(e - s for s, e in hits) >= PRUNE_POSTINGS):
            return self._search_pruned(ids, hits, k, allowed)
        return self._search_exhaustive(hits, k, allowed)

    def _search_exhaustive(self, hits: list[tuple[int, int]], k: int,
                           allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Every posting of every phrase added up (the reference the pruned path must equal)."""
        n = len(self.rows)
        # fts5Bm25Function: score = sum over phrases, in query order, of idf * f*(k1+1) / (f + k1*(1-b+b*D/avgdl)),
        # added in FTS5's order; scores are kept for the touched rows only when they are few (a sort), else in
        # a scratch array over every row (a scatter)
        total = sum(e - s for s, e in hits)
        touched = np.unique(np.concatenate([self.pos[s:e] for s, e in hits if e > s])) \
            if total * SPARSE_FRACTION < n else None
        scores = np.zeros(len(touched) if touched is not None else n, dtype=np.float64)
        matched = np.zeros(n, dtype=bool) if touched is None else None
        for s, e in hits:
            if e == s:
                continue
            idf = self._idf(e - s)
            pos, f = np.asarray(self.pos[s:e]), np.asarray(self.freq[s:e])
            at = np.searchsorted(touched, pos) if touched is not None else pos
            scores[at] += idf * self._weights(f, pos)  # a row holds a term once per term
            if matched is not None:
                matched[pos] = True
        if touched is None:
            touched = np.flatnonzero(matched)
            scores = scores[touched]
        rowids = np.asarray(self.rows[touched])
        if allowed is not None:
            keep = np.isin(rowids, allowed)
            scores, rowids = scores[keep], rowids[keep]
        return _top_k(rowids, scores, k)


    def _term_wmax(self, term: int) -> float:
        """wmax of one term: stored, or computed from its postings once."""
        if self.wmax is not None:
            return float(self.wmax[term])
        cached = self._wmax_cache.get(term)
        if cached is None:
            s, e = int(self.ptr[term]), int(self.ptr[term + 1])
            pos = np.asarray(self.pos[s:e])
            cached = self._wmax_cache[term] = float(self._weights(np.asarray(self.freq[s:e]), pos).max())
        return cached

    def _lookup(self, s: int, e: int, idf: float, cand: np.ndarray) -> np.ndarray:
        """The score a term (postings s:e) adds to each of the sorted candidate rows cand (0.0 where absent),
        computed as the exhaustive path computes it."""
        out = np.zeros(len(cand), dtype=np.float64)
        if not len(cand):
            return out
        plist = self.pos[s:e]
        at = np.minimum(np.searchsorted(plist, cand), e - s - 1)
        found = np.asarray(plist[at]) == cand
        if found.any():
            hit = cand[found]
            out[found] = idf * self._weights(np.asarray(self.freq[s + at[found]]), hit)
        return out

    def _search_pruned(self, ids: list[int | None], hits: list[tuple[int, int]], k: int,
                       allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The exhaustive top k, found by MaxScore (see the module docstring)."""
        n = len(self.rows)
        # one group per distinct term: its postings, idf, how often the query names it, its bound
        groups: dict[int, dict] = {}
        for i, (s, e) in zip(ids, hits):
            if e > s:
                g = groups.setdefault(i, {"s": s, "e": e, "idf": self._idf(e - s), "times": 0})
                g["times"] += 1
        for i, g in groups.items():
            g["bound"] = g["times"] * (g["idf"] * self._term_wmax(i))
        order = sorted(groups, key=lambda i: (-groups[i]["bound"], i))
        allowed_pos = None
        if allowed is not None:
            allowed = np.unique(np.asarray(allowed, dtype=np.int64))
            at = np.minimum(np.searchsorted(self.rows, allowed), n - 1)
            allowed_pos = np.unique(at[np.asarray(self.rows[at]) == allowed]).astype(np.int64)

        def scored(i: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            """(rows, one occurrence's score there) of term i's first `stop` postings within `allowed`."""
            g = groups[i]
            s, e = g["s"], min(g["e"], g["s"] + stop)
            pos = np.asarray(self.pos[s:e]).astype(np.int64)
            w = g["idf"] * self._weights(np.asarray(self.freq[s:e]), pos)
            if allowed_pos is not None:
                keep = np.isin(pos, allowed_pos, assume_unique=True)
                pos, w = pos[keep], w[keep]
            return pos, w

        def postings_of(i: int) -> tuple[np.ndarray, np.ndarray]:
            """scored() of all of term i's postings, cached."""
            g = groups[i]
            if "rows" not in g:
                g["rows"], g["w"] = scored(i, g["e"] - g["s"])
            return g["rows"], g["w"]

        def contribution(i: int, cand: np.ndarray) -> np.ndarray:
            """One occurrence of term i's score in each sorted candidate row (0.0 where absent): binary searches
            for a few candidates, else a scatter of the whole list (the cheaper of the two)."""
            g = groups[i]
            if len(cand) * LOOKUP_COST < g["e"] - g["s"]:
                return self._lookup(g["s"], g["e"], g["idf"], cand)
            rows, w = postings_of(i)
            scratch = np.zeros(n, dtype=np.float64)
            scratch[rows] = w
            return scratch[cand]

        def exact(cand: np.ndarray) -> np.ndarray:
            """Scores of sorted candidate rows, added up in query order as _search_exhaustive adds them."""
            scores = np.zeros(len(cand), dtype=np.float64)
            part = {i: contribution(i, cand) for i in groups}
            for i in ids:
                if i in part:
                    scores += part[i]
            return scores

        # 1. theta: the k-th exact score among the best-looking rows of the highest-bound terms (a lower bound
        # of the final k-th score)
        seeds, seed_rows = [], np.zeros(0, np.int64)
        for i in order:  # a long list is sampled (its first SEED_SCAN postings): any exactly scored rows will do
            rows, w = postings_of(i) if groups[i]["e"] - groups[i]["s"] <= SEED_SCAN else scored(i, SEED_SCAN)
            if len(rows) > SEED_FACTOR * k:
                rows = rows[np.argpartition(-w, SEED_FACTOR * k - 1)[:SEED_FACTOR * k]]
            seeds.append(rows)
            seed_rows = np.unique(np.concatenate(seeds))
            if len(seed_rows) >= SEED_FACTOR * k:
                break
        if len(seed_rows) < k:  # fewer than k rows match at all: nothing to prune
            return self._search_exhaustive(hits, k, allowed)
        theta = float(-np.partition(-exact(seed_rows), k - 1)[k - 1])
        floor = theta - SLACK * abs(theta)
        # 2. essential terms: the fewest highest-bound ones whose rest adds up to less than theta
        rest = [0.0] * (len(order) + 1)  # rest[j]: sum of the bounds of order[j:]
        for j in range(len(order) - 1, -1, -1):
            rest[j] = rest[j + 1] + groups[order[j]]["bound"]
        essential = next((j for j in range(1, len(order) + 1) if rest[j] < floor), len(order))
        if ESSENTIAL_SHARE * sum(groups[i]["e"] - groups[i]["s"] for i in order[:essential]) > sum(e - s for s, e in hits):
            return self._search_exhaustive(hits, k, allowed)  # most postings are essential: pruning cannot pay
        # 3. candidates: rows of the essential terms, with their partial scores (in bound order: only compared)
        lists = [(postings_of(i)[0], groups[i]["times"] * postings_of(i)[1]) for i in order[:essential]]
        total = sum(len(r) for r, _ in lists)
        if len(lists) == 1:
            cand, partial = lists[0]
        elif total * SPARSE_FRACTION < n:
            cand = np.unique(np.concatenate([r for r, _ in lists]))
            partial = np.zeros(len(cand), dtype=np.float64)
            for r, w in lists:
                partial[np.searchsorted(cand, r)] += w
        else:
            scratch = np.zeros(n, dtype=np.float64)
            for r, w in lists:
                scratch[r] += w
            cand = np.flatnonzero(scratch)  # every score is positive: the matched rows
            partial = scratch[cand]
        # 4. the other terms' scores in the candidates, highest bound first, dropping rows that cannot reach theta
        keep = partial + rest[essential] >= floor
        cand, partial = cand[keep], partial[keep]
        for j in range(essential, len(order)):
            partial = partial + groups[order[j]]["times"] * contribution(order[j], cand)
            keep = partial + rest[j + 1] >= floor
            cand, partial = cand[keep], partial[keep]
        # 5. the rows left, scored exactly
        return _top_k(np.asarray(self.rows[cand]), exact(cand), k)

    def frequency(self, token: str) -> int:
        """Rows that hold the token (its document frequency in BM25's idf)."""
        i = self._term_ids.get(token)
        return 0 if i is None else int(self.ptr[i + 1] - self.ptr[i])

    def bounds(self) -> np.ndarray:
        """wmax of every term (see the field), computed from the postings a block of terms at a time."""
        out = np.zeros(len(self.terms), dtype=np.float64)
        start = 0
        while start < len(self.terms):
            stop = int(np.searchsorted(self.ptr, self.ptr[start] + (1 << 23), side="right")) - 1
            stop = min(max(stop, start + 1), len(self.terms))
            s, e = int(self.ptr[start]), int(self.ptr[stop])
            if e > s:
                w = self._weights(np.asarray(self.freq[s:e]), np.asarray(self.pos[s:e]))
                starts = np.asarray(self.ptr[start:stop]) - s
                nonempty = starts < np.asarray(self.ptr[start + 1:stop + 1]) - s
                out[start:stop][nonempty] = np.maximum.reduceat(w, starts[nonempty])
            start = stop
        return out

    # --- persistence -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the arrays (uncompressed, so loading is a copy, not a decode), with every term's wmax."""
        with open(path, "wb") as fh:
            np.savez(fh, terms=np.frombuffer("\n".join(self.terms).encode("utf-8"), dtype=np.uint8),
                     ptr=self.ptr, pos=self.pos, freq=self.freq, rows=self.rows, doclen=self.doclen,
                     weights=np.array(COLUMN_WEIGHTS, dtype=np.float64),
                     wmax=self.wmax if self.wmax is not None else self.bounds())

    @classmethod
    def load(cls, path: Path, mmap_bytes: int = MMAP_BYTES) -> "Postings | None":
        """The postings in path (memory-mapped when the file has at least mmap_bytes); None when they were
        built with other column weights (then FTS5 is used)."""
        if path.stat().st_size >= mmap_bytes:
            return cls._from_arrays(map_npz(path))
        with np.load(path, allow_pickle=False) as z:
            return cls._from_arrays(z)

    @classmethod
    def _from_arrays(cls, z) -> "Postings | None":
        """Postings from the saved arrays (a mapping of name -> array)."""
        if tuple(np.asarray(z["weights"]).tolist()) != tuple(COLUMN_WEIGHTS):
            return None
        text = np.asarray(z["terms"]).tobytes().decode("utf-8")
        names = list(z.keys()) if hasattr(z, "keys") else z.files
        return cls(tuple(text.split("\n")) if text else (), np.asarray(z["ptr"]), z["pos"], z["freq"], z["rows"],
                   z["doclen"], np.asarray(z["wmax"]) if "wmax" in names else None)

    @property
    def mapped(self) -> bool:
        """True when the postings arrays are memory-mapped from the file."""
        return isinstance(self.pos, np.memmap)


def _top_k(rowids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (rowid, score), best first, ties by rowid."""
    cand = np.arange(len(rowids))
    if len(cand) > k:
        cut = -np.partition(-scores, k - 1)[k - 1]
        cand = cand[scores >= cut]
    order = np.lexsort((rowids[cand], -scores[cand]))[:k]
    return [(int(rowids[cand[i]]), float(scores[cand[i]])) for i in order]


def map_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an uncompressed .npz (np.savez), memory-mapped read-only in place.

    np.load ignores mmap_mode for .npz archives; np.savez stores members uncompressed, so each member's
    .npy data sits at a fixed offset of the file and can be mapped directly.
    """
    arrays = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{info.filename} in {path.name} is compressed and cannot be memory-mapped")
            fh.seek(info.header_offset)
            name_len, extra_len = struct.unpack("<HH", fh.read(30)[26:30])  # local file header fields
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            name = info.filename.removesuffix(".npy")
            if int(np.prod(shape)) == 0:
                arrays[name] = np.zeros(shape, dtype)
            else:
                arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape,
                                         order="F" if fortran else "C")
    return arrays


# --- building from the store ---------------------------------------------------------------------


def build_postings(conn: sqlite3.Connection, base: Postings | None = None) -> Postings:
    """Postings of every row of conn's chunks_fts, reusing `base` for rows it already covers.

    Rows are only ever inserted or deleted (a changed chunk gets a new rowid), so the rows that
    base knows keep their postings and only the new rows are tokenized. Without a base, FTS5's
    own vocabulary of the whole table is read.
    """
    rows = np.array([r[0] for r in conn.execute("SELECT rowid FROM chunks_fts ORDER BY rowid")], dtype=np.int64)
    if base is None:
        triples, lengths = _tokenized(conn, "main", "chunks_fts")
        return _assemble(rows, [], np.zeros(0, np.int64), np.zeros(0), triples, lengths)
    new_rows = np.setdiff1d(rows, base.rows, assume_unique=True)
    kept = _kept_postings(base, rows)
    triples, lengths = _tokenize_rows(conn, new_rows) if len(new_rows) else ([], {})
    old_lengths = dict(zip(base.rows.tolist(), base.doclen.tolist()))
    lengths = {**{r: old_lengths[r] for r in rows.tolist() if r in old_lengths}, **lengths}
    return _assemble(rows, *kept, triples, lengths)


def _kept_postings(base: Postings, rows: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """base's terms, and the (term id, rowid) pairs and frequencies of its postings whose rows still exist."""
    term_of = np.repeat(np.arange(len(base.terms)), np.diff(base.ptr))
    rowid = base.rows[base.pos]
    keep = np.isin(rowid, rows)
    return list(base.terms), np.stack([term_of[keep], rowid[keep]]), base.freq[keep]


def _tokenize_rows(conn: sqlite3.Connection, rowids: np.ndarray) -> tuple[list[tuple], dict[int, int]]:
    """FTS5's tokens of some rows: copied into a temporary FTS5 table with the same tokenizer."""
    conn.execute(f"CREATE VIRTUAL TABLE temp.bm25_new USING fts5({', '.join(_COLUMNS)}, tokenize = '{TOKENIZE}')")
    try:
        conn.execute("CREATE TEMP TABLE bm25_new_ids(id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO bm25_new_ids(id) VALUES (?)", ((int(r),) for r in rowids))
        conn.execute(f"INSERT INTO temp.bm25_new(rowid, {', '.join(_COLUMNS)}) SELECT rowid, {', '.join(_COLUMNS)} "
                     "FROM main.chunks_fts WHERE rowid IN (SELECT id FROM bm25_new_ids)")
        return _tokenized(conn, "temp", "bm25_new")
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.bm25_new")
        conn.execute("DROP TABLE IF EXISTS temp.bm25_new_ids")


def _tokenized(conn: sqlite3.Connection, schema: str, table: str) -> tuple[list[tuple], dict[int, int]]:
    """(term, rowid, column-weighted frequency) for every term of every row, and every row's token count."""
    weight = " ".join(f"WHEN '{c}' THEN {w!r}" for c, w in zip(_COLUMNS, COLUMN_WEIGHTS))
    conn.execute(f"CREATE VIRTUAL TABLE temp.bm25_vocab USING fts5vocab({schema}, {table}, instance)")
    try:
        triples = conn.execute(
            f"SELECT term, doc, SUM(CASE col {weight} END), COUNT(*) FROM temp.bm25_vocab GROUP BY term, doc").fetchall()
    finally:
        conn.execute("DROP TABLE temp.bm25_vocab")
    lengths: dict[int, int] = {}
    for _, doc, _, count in triples:
        lengths[doc] = lengths.get(doc, 0) + count
    return triples, lengths


def _assemble(rows: np.ndarray, old_terms: list[str], old: np.ndarray, old_freq: np.ndarray,
              triples: list[tuple], lengths: dict[int, int]) -> Postings:
    """Merge kept and new postings into term-major arrays; terms no row contains any more are dropped."""
    ids = {t: i for i, t in enumerate(old_terms)}
    terms = list(old_terms)
    new_term = np.empty(len(triples), dtype=np.int64)
    for j, (term, _, _, _) in enumerate(triples):
        i = ids.get(term)
        if i is None:
            i = ids[term] = len(terms)
            terms.append(term)
        new_term[j] = i
    term_of = np.concatenate([old[0] if old.size else np.zeros(0, np.int64), new_term])
    rowid = np.concatenate([old[1] if old.size else np.zeros(0, np.int64),
                            np.array([t[1] for t in triples], dtype=np.int64)])
    freq = np.concatenate([old_freq, np.array([t[2] for t in triples], dtype=np.float64)])
    # order terms alphabetically so the same content gives the same file however it was built
    used = np.unique(term_of)
    names = [terms[i] for i in used]
    alpha = np.argsort(np.array(names, dtype=object)) if names else np.zeros(0, np.int64)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[used[alpha]] = np.arange(len(used))
    term_rank = rank[term_of]
    order = np.lexsort((rowid, term_rank))
    term_rank, rowid, freq = term_rank[order], rowid[order], freq[order]
    ptr = np.searchsorted(term_rank, np.arange(len(used) + 1)).astype(np.int64)
    doclen = np.array([lengths.get(r, 0) for r in rows.tolist()], dtype=np.int64)
    return Postings(tuple(names[i] for i in alpha), ptr, np.searchsorted(rows, rowid).astype(np.int32),
                    freq, rows, doclen)


# --- query tokens ----------------------------------------------------------------------------------

_local = threading.local()


def _tokenizer() -> sqlite3.Connection:
    """This thread's in-memory FTS5 table with the index's tokenizer, for query terms."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE VIRTUAL TABLE q USING fts5(x, tokenize = '{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE qv USING fts5vocab(q, instance)")
        _local.conn = conn
    return conn


@lru_cache(maxsize=100_000)
def fts_tokens(term: str) -> tuple[str, ...]:
    """The tokens FTS5 makes of one query term (porter-stemmed, diacritics removed), in order."""
    conn = _tokenizer()
    conn.execute("INSERT INTO q(rowid, x) VALUES (1, ?)", (term,))
    try:
        return tuple(r[0] for r in conn.execute("SELECT term FROM qv ORDER BY offset"))
    finally:
        conn.execute("DELETE FROM q")


def query_phrases(text: str) -> list[str] | None:
    """One FTS5 token per quoted term of bm25.match_expression(text); None when a term is not one token.

    A term FTS5 splits in two would be a phrase query, which these postings cannot answer: such
    (rare) questions go to FTS5 itself.
    """
    phrases = []
    for term in query_terms(text):
        tokens = fts_tokens(term)
        if len(tokens) != 1:
            return None
        phrases.append(tokens[0])
    return phrases
