"""BM25 from FTS5's bm25() versus from the exported postings, side by side on one index.

    python -m eval.bench_bm25 --index /tmp/mq-p [--queries ../shared/data/medquad-dev/queries.jsonl] [--k 100]

For every question both rankings are computed; the script reports the median and p95 time of each and
how many top-k lists differ in any rowid or score (compared with ==). Exits 1 on any difference.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from eval.loadtest import DEV_QUERIES, load_questions, percentile
from index import bm25
from index.bm25_postings import query_phrases
from index.store import Index


def compare(index: Index, questions: list[str], k: int) -> dict:
    """Time both engines per question and count the questions whose top k differ."""
    if index._postings is None:
        raise SystemExit(f"{index.gen_dir} has no BM25 postings (written before they existed): re-run `medcite ingest`")
    conn = index._connection()
    fts_ms, postings_ms, differ, fallback = [], [], 0, 0
    for q in questions:
        t0 = time.perf_counter()
        expected = bm25.bm25_search(conn, q, k)
        t1 = time.perf_counter()
        phrases = query_phrases(q)
        got = index._postings.search(phrases, k) if phrases is not None else expected
        t2 = time.perf_counter()
        fallback += phrases is None
        fts_ms.append((t1 - t0) * 1000)
        postings_ms.append((t2 - t1) * 1000)
        # FTS5 orders equal scores arbitrarily: compare the scores in order and the sets of rows
        if [s for _, s in expected] != [s for _, s in got] or {r for r, _ in expected} != {r for r, _ in got}:
            differ += 1
    return {"questions": len(questions), "k": k, "differ": differ, "fts5_fallback": fallback,
            "fts5_ms": {"p50": round(statistics.median(fts_ms), 3), "p95": round(percentile(fts_ms, 95), 3)},
            "postings_ms": {"p50": round(statistics.median(postings_ms), 3),
                            "p95": round(percentile(postings_ms, 95), 3)}}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--queries", type=Path, default=DEV_QUERIES if DEV_QUERIES.exists() else None)
    p.add_argument("--k", type=int, default=100, help="ranking depth compared (hybrid search uses 100)")
    args = p.parse_args(argv)
    index = Index.open(args.index, verify=False)
    r = compare(index, load_questions(args.queries), args.k)
    print(f"{r['questions']} questions, top {r['k']}: FTS5 bm25() p50 {r['fts5_ms']['p50']} ms, "
          f"p95 {r['fts5_ms']['p95']} ms; postings p50 {r['postings_ms']['p50']} ms, p95 {r['postings_ms']['p95']} ms; "
          f"{r['differ']} rankings differ; {r['fts5_fallback']} questions answered by FTS5 itself")
    return 1 if r["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
