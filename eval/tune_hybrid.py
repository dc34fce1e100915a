"""Fit hybrid fusion on several BEIR sets at once: cache each retriever's rankings, then score fusions offline.

    python -m eval.tune_hybrid rankings --dataset ../shared/data/pubmedqa --index /work/idx/corpus-pubmedqa \
        --qrels dev --output /tmp/pubmedqa-dev.rankings.json.gz
    python -m eval.tune_hybrid fit /tmp/*.rankings.json.gz

`rankings` stores, per judged query, the dense and BM25 chunk rankings exactly as `Index.rank` returns them
at the depth `medcite eval` fuses (`Index.search_documents` with k=100), with each chunk's document. `fit`
replays every fusion variant over those rankings (the fusion functions of index/fusion.py, the same collapse
to documents), reports nDCG@10 per set and each variant's worst margin over the best single retriever, and
checks the choice by leaving one set out: pick on the others, score on the one left out.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.fusion import FusionSettings, fuse  # noqa: E402

EVAL_DEPTH = 100  # documents `medcite eval` ranks per query (eval/runner.py RUN_DEPTH)
CUTOFF = 10  # nDCG@10, the measure the requirement is stated in
SQL_BATCH = 900  # rowids per lookup, under SQLite's oldest limit of 999 bound parameters
ALLOWED_LOSS = 0.01  # hybrid may trail the best single retriever by at most this much nDCG@10 (issue 11)


@dataclass(frozen=True)
class QueryRankings:
    """One judged query: both retrievers' chunk rankings (rowid, score) and its relevance judgments."""

    qid: str
    dense: list[tuple[int, float]]
    bm25: list[tuple[int, float]]
    qrels: dict[str, int]


@dataclass(frozen=True)
class CachedSet:
    """A dataset's cached rankings, the chunk -> document map they need, and the chunk count of its index."""

    name: str
    queries: list[QueryRankings]
    doc_of: dict[int, str]
    chunks: int


def fusion_depth(index, k: int = EVAL_DEPTH) -> int:
    """The chunk depth Index.search_documents fuses at for k documents: enough chunks for k documents."""
    n = max(k * 5, index.fusion.candidates)
    return len(index) if index.manifest["counts"]["documents"] <= k else n


def cache_rankings(dataset: Path, index_dir: Path, qrels_name: str, output: Path) -> None:
    """Rank every judged query with dense and BM25 on an existing index and save the rankings."""
    from eval.beir import load_beir
    from index.embedder import load_embedder
    from index.store import Index
    from service.settings import Settings

    data = load_beir(dataset, split=qrels_name)
    qrels = data.relevance_map()
    index = Index.open(index_dir, load_embedder(**Settings().embedder_options()))
    depth = fusion_depth(index)
    rows, rowids = [], set()
    for qid, text in data.queries.items():
        dense = [(r[0], r[1]) for r in index.rank(text, depth, mode="dense")]
        bm25 = [(r[0], r[1]) for r in index.rank(text, depth, mode="bm25")]
        rowids.update(r for r, _ in dense + bm25)
        rows.append({"qid": qid, "dense": dense, "bm25": bm25, "qrels": qrels[qid]})
    ordered = sorted(rowids)
    doc_of = {}
    for start in range(0, len(ordered), SQL_BATCH):
        doc_of.update(index.chunk_documents(ordered[start:start + SQL_BATCH]))
    payload = {"name": f"{dataset.name}-{qrels_name}", "chunks": len(index), "depth": depth,
               "doc_of": {str(k): v for k, v in doc_of.items()}, "queries": rows}
    with gzip.open(output, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh)
    print(f"{output}: {len(rows)} queries, depth {depth}", flush=True)


def load_cached(path: Path) -> CachedSet:
    """A file written by cache_rankings."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    queries = [QueryRankings(r["qid"], [tuple(x) for x in r["dense"]], [tuple(x) for x in r["bm25"]], r["qrels"])
               for r in raw["queries"]]
    return CachedSet(raw["name"], queries, {int(k): v for k, v in raw["doc_of"].items()}, raw["chunks"])


def top_documents(ranking: Iterable[tuple[int, float]], doc_of: dict[int, str], k: int = CUTOFF) -> list[str]:
    """The first k distinct documents of a chunk ranking (a document ranks at its best chunk)."""
    seen: list[str] = []
    for rowid, _ in ranking:
        doc = doc_of[rowid]
        if doc not in seen:
            seen.append(doc)
            if len(seen) == k:
                break
    return seen


def ndcg_at_10(cached: CachedSet, rank: Callable[[QueryRankings], list[tuple[int, float]]]) -> float:
    """Mean nDCG@10 (ir-measures) of a ranking function over a cached set."""
    import ir_measures
    from ir_measures import nDCG

    qrels = [ir_measures.Qrel(q.qid, d, g) for q in cached.queries for d, g in q.qrels.items()]
    run = [ir_measures.ScoredDoc(q.qid, doc, CUTOFF - i)
           for q in cached.queries for i, doc in enumerate(top_documents(rank(q), cached.doc_of))]
    return ir_measures.calc_aggregate([nDCG @ CUTOFF], qrels, run)[nDCG @ CUTOFF]


def variants() -> dict[str, FusionSettings]:
    """Every fusion compared: today's default, RRF over k, convex combinations by normalisation and weight."""
    out = {f"rrf_k{k}": FusionSettings(method="rrf", rrf_k=k) for k in (1, 5, 10, 20, 30, 60, 100)}
    for norm in ("max", "minmax", "zscore"):
        for alpha in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            out[f"convex_{norm}_a{alpha}"] = FusionSettings(method="convex", normalise=norm, alpha=alpha)
    return out


def score_sets(sets: list[CachedSet], settings: dict[str, FusionSettings]) -> dict[str, dict[str, float]]:
    """nDCG@10 of bm25, dense and every fusion variant on every set: {variant: {set: score}}."""
    table: dict[str, dict[str, float]] = {"bm25": {}, "dense": {}}
    for cached in sets:
        table["bm25"][cached.name] = ndcg_at_10(cached, lambda q: q.bm25)
        table["dense"][cached.name] = ndcg_at_10(cached, lambda q: q.dense)
        for name, fusion in settings.items():
            table.setdefault(name, {})[cached.name] = ndcg_at_10(cached, lambda q, f=fusion: fuse(q.dense, q.bm25, f))
    return table


def worst_margin(table: dict[str, dict[str, float]], variant: str, names: Iterable[str]) -> float:
    """The smallest (fusion - best single retriever) nDCG@10 over the named sets."""
    return min(table[variant][n] - max(table["bm25"][n], table["dense"][n]) for n in names)


def report(table: dict[str, dict[str, float]], names: list[str]) -> None:
    """Print the table sorted by worst margin, then the leave-one-set-out check of the choice."""
    fusions = [v for v in table if v not in ("bm25", "dense")]
    print("variant".ljust(24) + "".join(n[:16].rjust(17) for n in names) + "   worst margin")
    for v in ["bm25", "dense"] + sorted(fusions, key=lambda v: -worst_margin(table, v, names)):
        margin = "" if v in ("bm25", "dense") else f"{worst_margin(table, v, names):+.4f}"
        print(v.ljust(24) + "".join(f"{table[v][n]:17.4f}" for n in names) + margin.rjust(15))
    for held in names if len(names) > 1 else []:
        rest = [n for n in names if n != held]
        pick = max(fusions, key=lambda v: worst_margin(table, v, rest))
        print(f"leave out {held}: best on the others is {pick}; on {held} its margin is "
              f"{worst_margin(table, pick, [held]):+.4f} (allowed: -{ALLOWED_LOSS})")


def main(argv: list[str] | None = None) -> int:
    """Command line of this script."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rankings", help="cache dense and BM25 rankings of a BEIR set's judged queries")
    r.add_argument("--dataset", type=Path, required=True)
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("--qrels", default="test", help="which qrels/<name>.tsv to use (default: test)")
    r.add_argument("--output", type=Path, required=True)
    f = sub.add_parser("fit", help="score every fusion variant on cached rankings")
    f.add_argument("cached", type=Path, nargs="+")
    args = ap.parse_args(argv)
    if args.command == "rankings":
        cache_rankings(args.dataset, args.index, args.qrels, args.output)
    else:
        sets = [load_cached(p) for p in args.cached]
        report(score_sets(sets, variants()), [s.name for s in sets])
    return 0


if __name__ == "__main__":
    sys.exit(main())
