"""A synthetic scale corpus: N chunks whose texts and vectors are drawn to match a real index.

    python -m eval.synthetic --base /work/idx/scale-base --n 100000 --output /tmp/syn.jsonl

How a chunk is drawn (chunk i of a corpus with seed s, in batches of BATCH chunks, batch j seeded (s, j),
so any chunk can be regenerated without storing the others, and 10M x 384 float32 never sit in RAM):
- its base is a uniformly drawn real chunk b of the base index (e.g. MedQuAD's 26k chunks);
- its text, title and heading are b's, verbatim (so BM25 sees real term statistics, each df scaled by N/B);
- its vector is normalise(v_b + sigma * e), where v_b is b's real vector and e is Gaussian noise with the
  covariance of the real vectors (drawn through their principal axes, so perturbations stay in the directions
  real chunk vectors vary in); sigma is set so that the expected cosine between a synthetic vector and its
  base is COSINE_TO_BASE. Copies of one base are then as far from each other (cosine ~0.74) as
  near-duplicate paraphrases, so nearest-neighbour search has to rank them rather than find exact twins.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BATCH = 100_000
SEED = 20261122
# Expected cosine between a synthetic vector and the real vector it was drawn around: 0.86 keeps each
# synthetic chunk closest to its own topic while two copies of one base differ as much as paraphrases do.
COSINE_TO_BASE = 0.86


@dataclass(frozen=True)
class Base:
    """The real chunks synthetic ones are drawn from: texts, float32 vectors, noise axes."""

    rowids: np.ndarray  # chunk rowids in the base store (its FTS5 rowids), ascending
    titles: list[str]
    headings: list[str]
    texts: list[str]
    vectors: np.ndarray  # float32 [B, dim], rows aligned with rowids
    axes: np.ndarray  # principal axes of the vectors, [dim, dim]
    scales: np.ndarray  # sigma * sqrt(eigenvalue) per axis

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def load_base(gen_dir: Path) -> Base:
    """Texts and vectors of every chunk of a generation directory (read directly: any format version)."""
    import faiss

    conn = sqlite3.connect(f"file:{gen_dir / 'store.sqlite'}?mode=ro", uri=True)
    rows = conn.execute("SELECT c.id, d.meta, c.heading, c.text FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                        "ORDER BY c.id").fetchall()
    index = faiss.read_index(str(gen_dir / "vectors.faiss"))
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    flat = index.index.reconstruct_n(0, index.ntotal)
    rowids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = flat[np.argsort(ids)][np.searchsorted(np.sort(ids), rowids)]
    centred = vectors - vectors.mean(axis=0)
    eigval, eigvec = np.linalg.eigh(centred.T @ centred / len(vectors))
    eigval = np.clip(eigval, 0, None)
    # |sigma e|^2 ~ sigma^2 * trace(C); cos(v + sigma e, v) ~ 1 / sqrt(1 + sigma^2 trace(C)) for unit v
    sigma = np.sqrt((1 / COSINE_TO_BASE ** 2 - 1) / eigval.sum())
    return Base(rowids, [json.loads(r[1]).get("title", "") for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                np.ascontiguousarray(vectors, np.float32), eigvec.astype(np.float32),
                (sigma * np.sqrt(eigval)).astype(np.float32))


def batch_bases(n: int, batch: int, seed: int, base_count: int) -> np.ndarray:
    """Base row (index into Base) of each chunk of one batch."""
    start, stop = batch * BATCH, min(n, (batch + 1) * BATCH)
    return np.random.default_rng([seed, batch, 0]).integers(0, base_count, stop - start)


def batch_vectors(base: Base, n: int, batch: int, seed: int) -> np.ndarray:
    """float32 [<= BATCH, dim] L2-normalised vectors of one batch (the same for the same n, batch, seed)."""
    bases = batch_bases(n, batch, seed, len(base.rowids))
    noise = np.random.default_rng([seed, batch, 1]).standard_normal((len(bases), base.dim), dtype=np.float32)
    vecs = base.vectors[bases] + (noise * base.scales) @ base.axes.T
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs


def batches(n: int) -> range:
    """Batch numbers of an n-chunk corpus."""
    return range((n + BATCH - 1) // BATCH)


def all_bases(base: Base, n: int, seed: int) -> np.ndarray:
    """Base row of every chunk (int32 [n]: 40 MB at 10M)."""
    return np.concatenate([batch_bases(n, b, seed, len(base.rowids)) for b in batches(n)]).astype(np.int32)


def exact_top_k(base: Base, n: int, seed: int, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Ids (0-based chunk numbers) of the exact top k for each query, by regenerating the vectors batch by batch."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for b in batches(n):
        scores = queries @ batch_vectors(base, n, b, seed).T
        ids = np.arange(b * BATCH, b * BATCH + scores.shape[1])
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, np.broadcast_to(ids, scores.shape)], axis=1)
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


def records(base: Base, n: int, seed: int) -> Iterator[dict]:
    """The corpus as BEIR corpus.jsonl records (texts only; `medcite ingest` embeds them itself)."""
    for b in batches(n):
        for j, row in enumerate(batch_bases(n, b, seed, len(base.rowids))):
            yield {"_id": f"syn{b * BATCH + j}", "title": base.titles[row], "text": base.texts[row]}


def main(argv: list[str] | None = None) -> int:
    """Write N synthetic chunks as a corpus.jsonl (their vectors are only used by eval.bench_scale)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, required=True, help="a generation directory of a real index")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--output", type=Path, required=True, metavar="corpus.jsonl")
    args = p.parse_args(argv)
    base = load_base(args.base)
    with open(args.output, "w", encoding="utf-8") as fh:
        for rec in records(base, args.n, args.seed):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {args.n} chunks to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
