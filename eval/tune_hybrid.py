"""Build (once) and evaluate a medquad-dev index: BM25, dense and several fusions, nDCG@10 / RR@10.

    python -m eval.tune_hybrid build  --index /tmp/medcite-dev-onnx --backend onnx
    python -m eval.tune_hybrid score  --index /tmp/medcite-dev-onnx --backend onnx
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad-dev"


def load_dev(dataset: Path = DEV) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Queries {qid: text} and qrels {qid: {doc_id: grade}} of a BEIR dataset."""
    queries = {}
    with open(dataset / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(dataset / "qrels" / "test.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, grade = line.rstrip("\n").split("\t")[:3]
            qrels.setdefault(qid, {})[did] = int(grade)
    return {q: t for q, t in queries.items() if q in qrels}, qrels


def build(index_dir: Path, backend: str) -> None:
    """Ingest corpus.jsonl into index_dir with the given backend, timing it."""
    from index.embedder import load_embedder
    from service.console import ConsoleProgress
    from service.pipeline import ingest_paths
    from service.settings import Settings

    settings = Settings()
    embedder = load_embedder(**{**settings.embedder_options(), "backend": backend})
    started = time.time()
    report = ingest_paths([DEV / "corpus.jsonl"], index_dir, embedder, progress=ConsoleProgress(),
                          **settings.ingest_options())
    print(report.summary_line(), f"wall {time.time() - started:.0f} s", flush=True)


def score(index_dir: Path, backend: str, out: Path | None) -> dict:
    """Every retriever and fusion variant over the dev queries, measured with ir-measures."""
    import ir_measures
    from ir_measures import RR, nDCG

    from index.embedder import load_embedder
    from index.fusion import FusionSettings
    from index.store import Index
    from service.settings import Settings

    embedder = load_embedder(**{**Settings().embedder_options(), "backend": backend})
    index = Index.open(index_dir, embedder)
    queries, qrels = load_dev()
    qids = sorted(queries)
    qvecs = embedder.embed([queries[q] for q in qids])
    variants = {"bm25": ("bm25", None), "dense": ("dense", None),
                "rrf": ("hybrid", FusionSettings(method="rrf")),
                **{f"wrrf_d{w}": ("hybrid", FusionSettings(method="rrf", dense_weight=w)) for w in (2.0, 3.0, 4.0)},
                **{f"convex_a{a}": ("hybrid", FusionSettings(method="convex", alpha=a))
                   for a in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)}}
    qrels_list = [ir_measures.Qrel(q, d, g) for q, docs in qrels.items() for d, g in docs.items()]
    results = {}
    for name, (mode, fusion) in variants.items():
        if fusion is not None:
            index.fusion = fusion
        run = []
        for qid, vec in zip(qids, qvecs):
            for rank, hit in enumerate(index.search_documents(queries[qid], k=10, mode=mode, query_vector=vec)):
                run.append(ir_measures.ScoredDoc(qid, hit.document.doc_id, 10 - rank))
        agg = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10], qrels_list, run)
        results[name] = {str(m): round(v, 4) for m, v in agg.items()}
        print(name, results[name], flush=True)
    if out:
        out.write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line of this script."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build", "score"])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--output", type=Path)
    args = ap.parse_args(argv)
    if args.command == "build":
        build(args.index, args.backend)
    else:
        score(args.index, args.backend, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
