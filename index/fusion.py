"""Fusing a dense and a lexical ranking into one: reciprocal rank fusion and a convex combination.

Both work on numpy arrays over the union of the two candidate lists: `medcite eval` fuses 500 chunks of each
list per query (thousands on a small corpus), where per-item Python was most of hybrid search's time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Ranking = list[tuple[int, float]]  # (id, score), best first
NORMALISERS = ("max", "minmax", "zscore")


# The default fusion: each list's scores as z-scores over its own candidates, weighted equally. Z-scores put
# a cosine and a BM25 score on one scale per query (standard deviations above that list's candidates), and a
# retriever whose best hits stand out further from its candidates gets more say in that query, so the mix
# adapts to the question without a weight fitted to any one corpus. Equal weights favour neither retriever.
# `python -m eval.tune_hybrid fit` on medquad-dev, PubMedQA (dev qrels) and COVID-QA: within 0.01 nDCG@10 of
# the best single retriever on all three (README, "MedQuAD numbers"); the old 0.8 dense weight on raw cosine and
# BM25 / best BM25 was tuned on MedQuAD only and lost 0.037 to BM25 on COVID-QA.
DEFAULT_NORMALISATION = "zscore"
EQUAL_WEIGHT = 0.5


@dataclass(frozen=True)
class FusionSettings:
    """How hybrid search combines its two rankings."""

    method: str = "convex"  # "convex" | "rrf"
    alpha: float = EQUAL_WEIGHT  # convex: weight of the dense score
    normalise: str = DEFAULT_NORMALISATION  # convex: how both score lists are put on one scale, one of NORMALISERS
    rrf_k: int = 60  # rrf: the k of Cormack, Clarke and Buettcher (SIGIR 2009), who introduced RRF
    dense_weight: float = 1.0  # rrf: per-ranking weights (weighted RRF)
    bm25_weight: float = 1.0
    candidates: int = 100  # top-N of each ranking that enters the fusion, at least (search_documents takes 5k)

    def to_dict(self) -> dict:
        """The settings as JSON-ready values, for eval output."""
        return dict(self.__dict__)


def _union(dense: Ranking, bm25: Ranking) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted union of the ids, and where each list's items sit in it."""
    d_ids = np.fromiter((cid for cid, _ in dense), dtype=np.int64, count=len(dense))
    b_ids = np.fromiter((cid for cid, _ in bm25), dtype=np.int64, count=len(bm25))
    ids = np.union1d(d_ids, b_ids)
    return ids, np.searchsorted(ids, d_ids), np.searchsorted(ids, b_ids)


def _scores(ranking: Ranking) -> np.ndarray:
    """A ranking's scores as float64."""
    return np.fromiter((s for _, s in ranking), dtype=np.float64, count=len(ranking))


def _ranked(ids: np.ndarray, fused: np.ndarray) -> Ranking:
    """(id, score) best first; equal scores in id order, so results never depend on input order."""
    order = np.lexsort((ids, -fused))
    return list(zip(ids[order].tolist(), fused[order].tolist()))


def rrf(dense: Ranking, bm25: Ranking, k: int = 60, dense_weight: float = 1.0,
        bm25_weight: float = 1.0) -> Ranking:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank) over the rankings."""
    ids, d_at, b_at = _union(dense, bm25)
    fused = np.zeros(len(ids))
    fused[d_at] += dense_weight / (k + np.arange(1, len(dense) + 1))
    fused[b_at] += bm25_weight / (k + np.arange(1, len(bm25) + 1))
    return _ranked(ids, fused)


def _normalised(scores: np.ndarray, how: str) -> np.ndarray:
    """One list's scores on the scale named by `how` (see NORMALISERS); constant lists map to a constant."""
    if not len(scores):
        return scores
    if how == "max":  # divided by the best, so BM25 lands in [0, 1] like a cosine
        top = scores.max()
        return scores / top if top > 0 else np.zeros_like(scores)
    if how == "minmax":  # onto [0, 1] between the list's worst and best
        low, high = scores.min(), scores.max()
        return (scores - low) / (high - low) if high > low else np.ones_like(scores)
    if how == "zscore":  # standard deviations above the list's mean
        spread = scores.std()
        return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
    raise ValueError(f"unknown normalisation {how!r} (use one of {', '.join(NORMALISERS)})")


def convex(dense: Ranking, bm25: Ranking, alpha: float = 0.8, normalise: str = "max") -> Ranking:
    """alpha * dense + (1 - alpha) * BM25 over the union of candidates, each list normalised first.

    "max" keeps the cosine as it is and divides BM25 by its best score. "minmax" and "zscore" rescale both
    lists. A candidate missing from one list gets that list's lowest normalised score (it ranked below all
    of them); under "max" a candidate BM25 did not find gets 0.
    """
    ids, d_at, b_at = _union(dense, bm25)
    d = _scores(dense) if normalise == "max" else _normalised(_scores(dense), normalise)
    b = _normalised(_scores(bm25), normalise)
    d_full = np.full(len(ids), d.min() if len(d) else 0.0)
    b_full = np.full(len(ids), 0.0 if normalise == "max" or not len(b) else b.min())
    d_full[d_at], b_full[b_at] = d, b
    return _ranked(ids, alpha * d_full + (1 - alpha) * b_full)


def fuse(dense: Ranking, bm25: Ranking, settings: FusionSettings) -> Ranking:
    """The hybrid ranking chosen by settings.method."""
    if settings.method == "rrf":
        return rrf(dense, bm25, settings.rrf_k, settings.dense_weight, settings.bm25_weight)
    if settings.method == "convex":
        return convex(dense, bm25, settings.alpha, settings.normalise)
    raise ValueError(f"unknown fusion method {settings.method!r} (use 'convex' or 'rrf')")
