"""Calibrate and check abstention: dev questions should be answered, off-topic questions should not.

    python -m eval.abstention --dataset /work/shared/data/medquad-dev            # small in-memory index
    python -m eval.abstention --dataset /work/shared/data/medquad-dev --index DIR  # a built medcite index

Without --index, a sample of dev queries plus their relevant documents and random distractors
is embedded with the real model into an in-memory dense retriever (a couple of minutes on two
cores). Prints the abstention rate of each question set at the current defaults, and a table of
rates over candidate `min_evidence` thresholds to choose the calibrated default from.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from index.types import DocumentRecord, Hit, SentenceRecord
from service.answer import answer
from service.select import MIN_COVERAGE, MIN_EVIDENCE

OFFTOPIC = Path(__file__).resolve().parents[1] / "tests" / "data" / "offtopic_questions.txt"


class DenseMemoryIndex:
    """A brute-force dense retriever over chunks (an index.retriever.Retriever): enough to calibrate a
    cosine threshold. Sentences are split and embedded as ingest does, one row per distinct text."""

    def __init__(self, docs, embedder):
        from index.sentence_store import chunk_sentence_spans
        from ingest.chunking import chunk_document

        self.records = {d.doc_id: DocumentRecord(d.doc_id, d.source, d.meta, d.content_hash, 0) for d in docs}
        self.chunks = [c for d in docs for c in chunk_document(d)]
        texts = [f"{self.records[c.doc_id].meta.title}\n{c.heading}\n{c.text}" for c in self.chunks]
        self.embedder = embedder
        self.vectors = embedder.embed(texts)
        row_of: dict[str, int] = {}
        self.sentence_records = {c.chunk_id: tuple(
            SentenceRecord(c.chunk_id, s, e, row_of.setdefault(c.text[s:e], len(row_of)), ())
            for s, e in chunk_sentence_spans(c)) for c in self.chunks}
        self.sentence_matrix = embedder.embed(list(row_of))

    def document(self, doc_id):
        return self.records.get(doc_id)

    def documents(self):
        return list(self.records.values())

    def chunks_of(self, doc_id):
        return [c for c in self.chunks if c.doc_id == doc_id]

    def query_vector(self, text):
        return self.embedder.embed([text])[0]

    def sentences(self, chunk_ids):
        return {cid: self.sentence_records.get(cid, ()) for cid in chunk_ids}

    def sentence_vectors(self, rows):
        return self.sentence_matrix[np.asarray(rows, dtype=np.int64)]

    def search(self, query, k=10, mode="hybrid", filters=None):
        sims = self.vectors @ self.query_vector(query)
        top = np.argsort(-sims)[:k]
        return [Hit(self.chunks[i], self.records[self.chunks[i].doc_id], float(sims[i]), float(sims[i])) for i in top]


def load_sample(dataset: Path, queries: int, distractors: int, seed: int = 0):
    """A seeded sample of dev queries, and the corpus lines of their documents plus distractors."""
    from ingest.beir_corpus import read_beir_corpus

    qs = {}
    for line in open(dataset / "queries.jsonl"):
        r = json.loads(line)
        qs[r["_id"]] = r["text"]
    qrels: dict[str, set[str]] = {}
    for line in list(open(dataset / "qrels" / "test.tsv"))[1:]:
        q, d, s = line.split("\t")
        if int(s) > 0:
            qrels.setdefault(q, set()).add(d)
    rng = random.Random(seed)
    chosen = rng.sample(sorted(q for q in qrels if q in qs), min(queries, len(qrels)))
    wanted = set().union(*(qrels[q] for q in chosen))
    lines = open(dataset / "corpus.jsonl").read().splitlines()
    others = [i for i, ln in enumerate(lines) if json.loads(ln)["_id"] not in wanted]
    keep = set(rng.sample(others, min(distractors, len(others))))
    text = "\n".join(ln for i, ln in enumerate(lines) if i in keep or json.loads(ln)["_id"] in wanted)
    docs, _ = read_beir_corpus(dataset / "corpus.jsonl", text)
    return [qs[q] for q in chosen], docs


def all_queries(dataset: Path) -> list[str]:
    """Every dev query text."""
    return [json.loads(line)["text"] for line in open(dataset / "queries.jsonl")]


def scores(questions, index, embedder) -> list[tuple[float, float, float]]:
    """(evidence, coverage, milliseconds) of each question's answer with abstention disabled."""
    out = []
    for q in questions:
        t = time.perf_counter()
        a = answer(q, index, embedder, min_evidence=-1.0, min_coverage=-1.0)
        out.append((a.evidence, a.coverage, (time.perf_counter() - t) * 1000))
    return out


def rate(rows, min_evidence: float, min_coverage: float) -> float:
    """Share of questions that would abstain at these thresholds."""
    return sum(e < min_evidence or c < min_coverage for e, c, _ in rows) / max(1, len(rows))


def report(dev, off, out=sys.stdout) -> None:
    """Rates at the defaults and over a grid of thresholds."""
    print(f"dev questions: {len(dev)}   off-topic questions: {len(off)}", file=out)
    print(f"defaults min_evidence={MIN_EVIDENCE} min_coverage={MIN_COVERAGE}: "
          f"dev abstain {rate(dev, MIN_EVIDENCE, MIN_COVERAGE):.1%}, "
          f"off-topic abstain {rate(off, MIN_EVIDENCE, MIN_COVERAGE):.1%}", file=out)
    print("min_evidence  dev-abstain  offtopic-abstain   (min_coverage as above)", file=out)
    for t in np.arange(0.20, 0.62, 0.02):
        print(f"  {t:.2f}        {rate(dev, t, MIN_COVERAGE):6.1%}      {rate(off, t, MIN_COVERAGE):6.1%}", file=out)
    for name, rows in (("dev", dev), ("off-topic", off)):
        ev = sorted(r[0] for r in rows)
        print(f"{name}: evidence p5={np.percentile(ev, 5):.3f} median={statistics.median(ev):.3f} "
              f"p95={np.percentile(ev, 95):.3f}; coverage<{MIN_COVERAGE}: "
              f"{sum(r[1] < MIN_COVERAGE for r in rows)}", file=out)
    print("min_coverage  dev-abstain  offtopic-abstain   (min_evidence as above)", file=out)
    for c in np.arange(0.40, 0.95, 0.05):
        print(f"  {c:.2f}        {rate(dev, MIN_EVIDENCE, c):6.1%}      {rate(off, MIN_EVIDENCE, c):6.1%}", file=out)
    lat = sorted(r[2] for r in dev)
    print(f"answer() latency over dev: p50={statistics.median(lat):.1f} ms p95={np.percentile(lat, 95):.1f} ms",
          file=out)


def main(argv=None) -> int:
    """Build or open the index, answer both question sets, print the rates."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--index", type=Path, help="a built medcite index (default: in-memory sample)")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--distractors", type=int, default=1500)
    p.add_argument("--offtopic", type=Path, default=OFFTOPIC)
    args = p.parse_args(argv)
    from index.embedder import load_embedder
    from service.settings import Settings

    embedder = load_embedder(**Settings().embedder_options())
    if args.index:
        from index.store import Index

        index = Index.open(args.index, embedder=embedder)
        questions = all_queries(args.dataset)
    else:
        questions, docs = load_sample(args.dataset, args.queries, args.distractors)
        t = time.perf_counter()
        index = DenseMemoryIndex(docs, embedder)
        print(f"embedded {len(index.chunks)} chunks of {len(docs)} documents in {time.perf_counter() - t:.0f} s")
    offtopic = [q.strip() for q in args.offtopic.read_text().splitlines() if q.strip()]
    report(scores(questions, index, embedder), scores(offtopic, index, embedder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
