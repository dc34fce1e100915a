"""Fusing a dense and a lexical ranking into one: reciprocal rank fusion and a convex combination."""
from __future__ import annotations

from dataclasses import dataclass

Ranking = list[tuple[int, float]]  # (id, score), best first


@dataclass(frozen=True)
class FusionSettings:
    """How hybrid search combines its two rankings; the defaults were tuned on medquad-dev."""

    method: str = "convex"  # "convex" | "rrf"; RRF lost to dense alone on medquad-dev (README.md, MedQuAD numbers)
    # convex: weight of the dense score. Every weight from 0.6 to 0.95 beat dense alone on medquad-dev
    # (`python -m eval.tune_hybrid score`); 0.8 rather than the best 0.85 keeps BM25 a say (README.md).
    alpha: float = 0.8
    rrf_k: int = 60  # rrf: the k of Cormack, Clarke & Buettcher (SIGIR 2009), used unchanged
    dense_weight: float = 1.0  # rrf: per-ranking weights (weighted RRF)
    bm25_weight: float = 1.0
    candidates: int = 100  # top-N of each ranking that enters the fusion

    def to_dict(self) -> dict:
        """The settings as JSON-ready values, for the manifest and eval output."""
        return dict(self.__dict__)


def rrf(dense: Ranking, bm25: Ranking, k: int = 60, dense_weight: float = 1.0,
        bm25_weight: float = 1.0) -> Ranking:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank) over the rankings."""
    scores: dict[int, float] = {}
    for weight, ranking in ((dense_weight, dense), (bm25_weight, bm25)):
        for rank, (cid, _) in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _max_normalised(ranking: Ranking) -> dict[int, float]:
    """Scores divided by the best one, so BM25 lands in [0, 1] like a cosine."""
    if not ranking:
        return {}
    top = max(s for _, s in ranking)
    return {cid: (s / top if top > 0 else 0.0) for cid, s in ranking}


def convex(dense: Ranking, bm25: Ranking, alpha: float = 0.8) -> Ranking:
    """alpha * cosine + (1 - alpha) * BM25 / max BM25 over the union of candidates.

    A candidate missing from one list gets that list's lowest score (it ranked below all of them).
    """
    d = dict(dense)
    b = _max_normalised(bm25)
    d_floor = min(d.values()) if d else 0.0
    scores = {cid: alpha * d.get(cid, d_floor) + (1 - alpha) * b.get(cid, 0.0) for cid in set(d) | set(b)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(dense: Ranking, bm25: Ranking, settings: FusionSettings) -> Ranking:
    """The hybrid ranking chosen by settings.method."""
    if settings.method == "rrf":
        return rrf(dense, bm25, settings.rrf_k, settings.dense_weight, settings.bm25_weight)
    if settings.method == "convex":
        return convex(dense, bm25, settings.alpha)
    raise ValueError(f"unknown fusion method {settings.method!r} (use 'convex' or 'rrf')")
