"""eval.tune_hybrid scores fusions offline the way medcite eval scores hybrid search: chunks collapse to documents."""
from __future__ import annotations

import math

import pytest

from eval.tune_hybrid import CachedSet, QueryRankings, ndcg_at_10, score_sets, top_documents, worst_margin
from index.fusion import FusionSettings

# chunk rowid -> document: a has chunks 1 and 2, b has 3, c has 4
DOC_OF = {1: "a", 2: "a", 3: "b", 4: "c"}


def test_top_documents_keeps_each_documents_best_chunk_in_order():
    assert top_documents([(2, 0.9), (1, 0.8), (4, 0.7), (3, 0.1)], DOC_OF, k=2) == ["a", "c"]


def cached() -> CachedSet:
    """One query whose only relevant document, b, BM25 ranks first and dense ranks second (after a's two chunks)."""
    query = QueryRankings("q1", dense=[(1, 0.9), (2, 0.85), (3, 0.8), (4, 0.1)], bm25=[(3, 12.0), (4, 3.0)],
                          qrels={"b": 1})
    return CachedSet("tiny", [query], DOC_OF, chunks=4)


def test_ndcg_collapses_chunks_before_scoring():
    assert ndcg_at_10(cached(), lambda q: q.bm25) == pytest.approx(1.0)
    assert ndcg_at_10(cached(), lambda q: q.dense) == pytest.approx(1 / math.log2(3))  # b is the 2nd document


def test_worst_margin_is_fusion_minus_best_single_retriever():
    table = score_sets([cached()], {"bm25_heavy": FusionSettings(alpha=0.2), "dense_only": FusionSettings(alpha=1.0)})
    assert worst_margin(table, "bm25_heavy", ["tiny"]) == pytest.approx(0.0)
    assert worst_margin(table, "dense_only", ["tiny"]) == pytest.approx(1 / math.log2(3) - 1.0)
