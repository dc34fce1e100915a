"""`medcite eval`: index a BEIR corpus, rank every query with each retriever, score runs with ir-measures."""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, TextIO

from eval.beir import BeirDataset, load_beir
from eval.metrics import DEFAULT_MEASURES, evaluate, parse_measures, percentiles, recall_curve, write_run

RETRIEVERS = ("bm25", "dense", "hybrid")
RUN_DEPTH = 100  # documents ranked per query; R@100 needs 100

# (query text, k) -> [(doc id, score)] best first; a document's score is its best chunk's score
Ranker = Callable[[str, int], list[tuple[str, float]]]
# question -> answer dict in the /ask contract shape
Answerer = Callable[[str], Mapping]


@dataclass(frozen=True)
class RetrieverRun:
    """One retriever's ranking of every query and how long each query took."""

    name: str
    run: dict[str, list[tuple[str, float]]]
    latencies_ms: tuple[float, ...]


def parse_retrievers(retrievers: str | Iterable[str] | None, known: Iterable[str] = RETRIEVERS) -> list[str]:
    """Retriever names from "bm25,dense" or a list, checked against the known ones."""
    if retrievers is None:
        return list(RETRIEVERS)
    if isinstance(retrievers, str):
        retrievers = retrievers.split(",")
    names = list(dict.fromkeys(r.strip() for r in retrievers if r.strip()))
    known = list(known)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown retriever(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(known)}")
    return names


def default_index_dir(dataset: Path, model: str, root: Path = Path(".medcite/eval")) -> Path:
    """A reusable index folder per dataset and model, so reruns skip the ingest."""
    key = hashlib.blake2b(f"{dataset.resolve()}|{model}".encode(), digest_size=4).hexdigest()
    return root / f"{dataset.resolve().name}-{key}"


def subset(dataset: BeirDataset, max_queries: int | None) -> BeirDataset:
    """The first `max_queries` judged queries (and only their judgments), for quick runs."""
    if max_queries is None or max_queries >= len(dataset.queries):
        return dataset
    kept = dict(list(dataset.queries.items())[:max_queries])
    return replace(dataset, queries=kept, qrels=tuple(q for q in dataset.qrels if q.query_id in kept))


def rank_queries(name: str, queries: Mapping[str, str], ranker: Ranker, k: int = RUN_DEPTH) -> RetrieverRun:
    """Rank every query, timing each one on its own for latency percentiles."""
    run: dict[str, list[tuple[str, float]]] = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        ranked = ranker(text, k)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        run[qid] = [(doc_id, float(score)) for doc_id, score in ranked[:k]]
    return RetrieverRun(name, run, tuple(latencies))


def index_ranker(index, mode: str) -> Ranker:
    """Rank documents with the index: best chunk per document, in the given search mode."""

    def rank(text: str, k: int) -> list[tuple[str, float]]:
        return [(h.document.doc_id, float(h.score)) for h in index.search_documents(text, k=k, mode=mode)]

    return rank


def open_index(dataset: BeirDataset, index_dir: Path, embedder, progress: bool = True, ingest: bool = True):
    """Ingest the corpus through the product's own path (a no-op when unchanged) and open the index.

    `ingest=False` opens an index someone else built as it is (read-only evaluation).
    """
    from index.build import ingest_paths
    from index.store import Index

    if ingest:
        refuse_foreign_index(index_dir, dataset.corpus_path)
        report = ingest_paths([dataset.corpus_path], index_dir, embedder, progress=progress)
        if progress:
            print(f"index {index_dir}: {report.summary_line()}", file=sys.stderr)
    return Index.open(index_dir, embedder)


def refuse_foreign_index(index_dir: Path, corpus_path: Path) -> None:
    """ValueError when index_dir already holds files other than this corpus (a serving index, say).

    Evaluating would add the benchmark corpus to it, and its other documents would skew the scores.
    """
    from index.errors import IndexNotFound
    from index.store import Index

    try:
        files = Index.open(index_dir, verify=False).source_files()
    except IndexNotFound:
        return
    others = [f for f in files if f != str(Path(corpus_path).resolve())]
    if others:
        raise ValueError(f"{index_dir} already indexes {len(others)} other file(s) (e.g. {others[0]}): evaluating "
                         f"would add {corpus_path} to it and mix in their documents; pass --index with a "
                         "separate folder (or leave MEDCITE_INDEX unset)")


def index_settings(manifest: Mapping) -> dict:
    """The index settings worth reporting (chunking and the like), without file lists and checksums."""
    if isinstance(manifest.get("settings"), Mapping):
        return dict(manifest["settings"])
    skip = {"checksums", "files", "sources", "generation", "created", "updated", "created_at", "updated_at"}
    return {k: v for k, v in manifest.items() if k not in skip and isinstance(v, (str, int, float, bool, type(None), dict, list))}


def index_answerer(index, embedder, top_k: int = 5) -> Answerer | None:
    """service.answer.answer as a question -> dict function, or None when the service is not available."""
    try:
        from service.answer import answer, answer_to_dict
    except ImportError:
        return None
    return lambda question: answer_to_dict(answer(question, index, embedder, top_k=top_k))


def evaluate_answers(dataset: BeirDataset, answerer: Answerer, max_queries: int | None = None) -> dict:
    """Answer each judged query and summarise faithfulness, citation validity, abstention and hits."""
    from eval.answers import check_answer, summarise

    checks, latencies = [], []
    for qid, text in list(dataset.queries.items())[:max_queries]:
        t0 = time.perf_counter()
        result = answerer(text)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        checks.append(check_answer(result, dataset.relevant(qid)))
    return {**summarise(checks), "latency_ms": percentiles(latencies)}


def run_paths(output: Path, names: Iterable[str]) -> dict[str, Path]:
    """Where each retriever's TREC run file goes: next to the JSON output, <stem>.<retriever>.run."""
    return {name: output.with_name(f"{output.stem}.{name}.run") for name in names}


def format_table(result: Mapping) -> str:
    """Retrievers as rows, measures and latency as columns, then the answer-level line."""
    measures = list(next(iter(result["retrievers"].values()), {}))
    head = ["retriever", *measures, "p50 ms", "p95 ms"]
    rows = [head]
    for name, scores in result["retrievers"].items():
        lat = result["latency_ms"].get(name, {})
        rows.append([name, *(f"{scores[m]:.4f}" for m in measures), f"{lat.get('p50', 0):.1f}", f"{lat.get('p95', 0):.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    ds = result["dataset"]
    lines.insert(0, f"{ds['path']}: {ds['documents']} documents, {ds['queries']} queries, {ds['qrels']} judgments; model {result['model']}")
    ans = result.get("answers")
    if isinstance(ans, Mapping) and "faithfulness" in ans:
        lines.append(
            f"answers ({ans['queries']} queries): faithfulness {ans['faithfulness']:.4f}, citation validity "
            f"{ans['citation_validity']:.4f}, abstention {ans['abstention_rate']:.4f}, hit rate {ans['hit_rate']:.4f}, "
            f"p50 {ans['latency_ms']['p50']:.1f} ms"
        )
    elif isinstance(ans, Mapping) and ans.get("skipped"):
        lines.append(f"answers: skipped ({ans['skipped']})")
    return "\n".join(lines)


def run_eval(
    dataset: str | Path,
    index_dir: str | Path | None = None,
    retrievers: str | Iterable[str] | None = RETRIEVERS,
    measures: str | Iterable[str] | None = DEFAULT_MEASURES,
    output: str | Path | None = None,
    plot: str | Path | None = None,
    *,
    answers: bool = True,
    max_queries: int | None = None,
    answer_queries: int | None = None,
    embedder=None,
    rankers: Mapping[str, Ranker] | None = None,
    answerer: Answerer | None = None,
    ingest: bool = True,
    stdout: TextIO | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate retrievers (and answers) on a BEIR dataset; print a table, write JSON/run files/plot; return the JSON.

    `rankers` replaces the index (tests, other systems); `answerer` replaces service.answer;
    `ingest=False` evaluates an existing index without adding the corpus to it.
    """
    ds = subset(load_beir(dataset), max_queries)
    parsed = parse_measures(measures)
    names = parse_retrievers(retrievers, known=rankers.keys() if rankers is not None else RETRIEVERS)
    index, model, chunks, settings = None, getattr(embedder, "name", ""), 0, {}
    if rankers is None:
        if embedder is None:
            from index.embedder import load_embedder

            embedder = load_embedder()
        model = embedder.name
        index_dir = Path(index_dir) if index_dir else default_index_dir(Path(dataset), model)
        index = open_index(ds, index_dir, embedder, progress=progress, ingest=ingest)
        rankers = {name: index_ranker(index, name) for name in names}
        manifest = getattr(index, "manifest", {}) or {}
        model, chunks, settings = manifest.get("model", model), len(index), index_settings(manifest)
    runs = []
    for name in names:
        if progress:
            print(f"ranking {len(ds.queries)} queries with {name}", file=sys.stderr)
        runs.append(rank_queries(name, ds.queries, rankers[name]))
    result = {
        "dataset": {"path": str(dataset), "documents": ds.documents, "queries": len(ds.queries), "qrels": len(ds.qrels)},
        "model": model,
        "index": {"chunks": chunks, "settings": settings},
        "retrievers": {r.name: evaluate(r.run, ds.qrels, parsed) for r in runs},
        "latency_ms": {r.name: percentiles(r.latencies_ms) for r in runs},
    }
    if answers:
        answerer = answerer or (index_answerer(index, embedder) if index is not None else None)
        if answerer is None:
            result["answers"] = {"skipped": "no answer service (service.answer) available"}
        else:
            if progress:
                print(f"answering {min(len(ds.queries), answer_queries or len(ds.queries))} queries", file=sys.stderr)
            result["answers"] = evaluate_answers(ds, answerer, answer_queries)
    if output:
        output = Path(output)
        paths = run_paths(output, names)
        for r in runs:
            write_run(r.run, paths[r.name], tag=f"medcite-{r.name}")
        result["runs"] = {name: str(p) for name, p in paths.items()}
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if plot:
        from eval.plot import plot_recall

        curves = {r.name: recall_curve(r.run, ds.qrels) for r in runs}
        plot_recall(curves, Path(plot), title=f"Recall@k on {Path(dataset).name} ({len(ds.queries)} queries)")
    print(format_table(result), file=stdout or sys.stdout)
    return result
