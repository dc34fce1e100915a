"""Stage 1 of the answer path: retrieve the question's chunks, and keep the question vector that found them."""
from __future__ import annotations

import time

from service.answer_types import Retrieval


def retrieve(question: str, index, *, k: int, filters=None) -> Retrieval:
    """The k best chunks by hybrid search, with the question's vector (embedded once, cached by the index)."""
    t0 = time.perf_counter()
    query_vector = index.query_vector(question)
    hits = index.search(question, k=k, mode="hybrid", filters=filters)
    return Retrieval(question, query_vector, tuple(hits), time.perf_counter() - t0)
