"""Metrics over runs, computed by ir-measures (never by hand), plus run files and latency percentiles."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import ir_measures
import numpy as np

from eval.beir import Qrel

DEFAULT_MEASURES = ("nDCG@10", "RR@10", "AP@10", "P@5", "R@100")
RECALL_CUTOFFS = (1, 2, 3, 5, 10, 20, 30, 50, 100)

# query id -> [(doc id, score)] in rank order
Run = Mapping[str, Sequence[tuple[str, float]]]


def parse_measures(measures: str | Iterable[str] | None) -> list:
    """ir-measures objects for names such as "nDCG@10" (comma-separated string or list)."""
    if measures is None:
        measures = DEFAULT_MEASURES
    if isinstance(measures, str):
        measures = [m for m in measures.split(",")]
    names = [m.strip() for m in measures if m.strip()]
    if not names:
        raise ValueError("no measures given")
    parsed = []
    for name in names:
        try:
            parsed.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError) as exc:
            raise ValueError(f"unknown measure {name!r} (ir-measures names, e.g. nDCG@10, RR@10, P@5): {exc}") from None
    return parsed


def _qrels(qrels: Iterable[Qrel]) -> list:
    """Our judgments as ir-measures Qrel tuples."""
    return [ir_measures.Qrel(q.query_id, q.doc_id, q.relevance) for q in qrels]


def _scored_docs(run: Run) -> list:
    """A run as ir-measures ScoredDoc tuples."""
    return [ir_measures.ScoredDoc(qid, doc_id, float(score)) for qid, ranked in run.items() for doc_id, score in ranked]


def evaluate(run: Run, qrels: Iterable[Qrel], measures: Sequence) -> dict[str, float]:
    """Mean of each measure over all judged queries (a query the run misses scores 0), named as ir-measures names it."""
    agg = ir_measures.calc_aggregate(list(measures), _qrels(qrels), _scored_docs(run))
    return {str(m): float(agg[m]) for m in measures}


def per_query_scores(run: Run, qrels: Iterable[Qrel], measures: Sequence) -> dict[str, dict[str, float]]:
    """query id -> measure name -> score, for every judged query (0 where the run has nothing for it).

    The mean of these is what `evaluate` reports; comparisons test differences query by query.
    """
    qrels = list(qrels)
    names = [str(m) for m in measures]
    out = {q.query_id: dict.fromkeys(names, 0.0) for q in qrels}
    for metric in ir_measures.iter_calc(list(measures), _qrels(qrels), _scored_docs(run)):
        out.setdefault(metric.query_id, dict.fromkeys(names, 0.0))[str(metric.measure)] = float(metric.value)
    return out


def recall_curve(run: Run, qrels: Iterable[Qrel], cutoffs: Sequence[int] = RECALL_CUTOFFS) -> dict[int, float]:
    """Mean recall@k for each cutoff k."""
    measures = [ir_measures.R @ k for k in cutoffs]
    agg = ir_measures.calc_aggregate(measures, _qrels(qrels), _scored_docs(run))
    return {k: float(agg[m]) for k, m in zip(cutoffs, measures)}


def write_run(run: Run, path: Path, tag: str) -> Path:
    """Write a TREC run file; scores keep full precision so a re-read ranks exactly the same."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for qid, ranked in run.items():
            for rank, (doc_id, score) in enumerate(ranked, 1):
                fh.write(f"{qid} Q0 {doc_id} {rank} {float(score)!r} {tag}\n")
    return path


def write_qrels(qrels: Iterable[Qrel], path: Path) -> Path:
    """Write judgments in TREC qrels format, for tools that do not read BEIR's tsv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for q in qrels:
            fh.write(f"{q.query_id} 0 {q.doc_id} {q.relevance}\n")
    return path


def percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 of per-query latencies in milliseconds (zeros when there were none)."""
    if not latencies_ms:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    p50, p95, p99 = np.percentile(np.asarray(latencies_ms, dtype=float), [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3)}
