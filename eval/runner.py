"""`medcite eval`: index a BEIR corpus, rank every query with each retriever, score runs with ir-measures."""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, TextIO

from tqdm import tqdm

from eval.beir import BeirDataset, load_beir
from eval.metrics import (
    DEFAULT_MEASURES, evaluate, parse_measures, per_query_scores, percentiles, recall_curve, write_run,
)
from service.answer_types import SOURCE_DOCUMENTS

RETRIEVERS = ("bm25", "dense", "hybrid")
RUN_DEPTH = 100  # documents ranked per query; R@100 needs 100

# (query text, k) -> [(doc id, score)] best first; a document's score is its best chunk's score
Ranker = Callable[[str, int], list[tuple[str, float]]]
# question -> the core Answer (service.answer_types.Answer), or a dict in the /ask contract shape from another
# system; both are checked through the /ask response model (service.schemas.AnswerOut)
Answerer = Callable[[str], object]
# question -> text of the top search hit (what the lead baseline quotes from)
TopHit = Callable[[str], str]
LEAD_MODE = "hybrid"  # answer_bench.py takes the lead from POST /search, whose default mode is hybrid


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


def bar(items, desc: str, progress: bool, total: int | None = None):
    """A progress bar over the items on stderr (or the items themselves when progress is off)."""
    return tqdm(items, desc=desc, total=total, unit="q", disable=not progress, file=sys.stderr, leave=False)


def rank_queries(name: str, queries: Mapping[str, str], ranker: Ranker, k: int = RUN_DEPTH,
                 progress: bool = False) -> RetrieverRun:
    """Rank every query, timing each one on its own for latency percentiles."""
    run: dict[str, list[tuple[str, float]]] = {}
    latencies: list[float] = []
    for qid, text in bar(queries.items(), f"ranking with {name}", progress, total=len(queries)):
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


def open_index(dataset: BeirDataset, index_dir: Path, embedder, progress: bool = True, ingest: bool = True,
               ingest_options: Mapping | None = None):
    """Ingest the corpus through the product's own path (a no-op when unchanged) and open the index.

    `ingest=False` opens an index someone else built as it is (read-only evaluation);
    `ingest_options` are keyword arguments of service.pipeline.ingest_paths (Settings.ingest_options()).
    """
    from index.store import Index
    from service.console import ConsoleProgress
    from service.pipeline import ingest_paths

    if ingest:
        refuse_foreign_index(index_dir, dataset.corpus_path)
        report = ingest_paths([dataset.corpus_path], index_dir, embedder, progress=ConsoleProgress(bars=progress),
                              **(ingest_options or {}))
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


def index_answerer(index, embedder, top_k: int = SOURCE_DOCUMENTS) -> Answerer | None:
    """service.answer.answer as a question -> Answer function."""
    from service.answer import answer

    return lambda question: answer(question, index, embedder, top_k=top_k)


def index_top_hit(index) -> TopHit:
    """The text of the index's best chunk for a question (empty when nothing matches), as POST /search gives it."""

    def top(question: str) -> str:
        hits = index.search(question, k=1, mode=LEAD_MODE)
        return hits[0].chunk.text if hits else ""

    return top


class TimedAnswerer:
    """Answers each question once and remembers how long it took (both answer checks ask the same questions)."""

    def __init__(self, answerer: Answerer):
        self.answerer = answerer
        self.answers: dict[str, tuple[Mapping, float]] = {}

    def __call__(self, question: str) -> tuple[Mapping, float]:
        """(answer dict, milliseconds the answer took)."""
        if question not in self.answers:
            t0 = time.perf_counter()
            result = self.answerer(question)
            self.answers[question] = (result, (time.perf_counter() - t0) * 1000.0)
        return self.answers[question]


def evaluate_answers(dataset: BeirDataset, answerer: Answerer, max_queries: int | None = None,
                     progress: bool = False) -> dict:
    """Answer each judged query and summarise faithfulness, citation validity, abstention and hits."""
    from eval.answers import check_answer, summarise

    timed = answerer if isinstance(answerer, TimedAnswerer) else TimedAnswerer(answerer)
    checks, latencies = [], []
    items = list(dataset.queries.items())[:max_queries]
    for qid, text in bar(items, "checking answers", progress):
        result, ms = timed(text)
        latencies.append(ms)
        checks.append(check_answer(answer_out(result), dataset.relevant(qid)))
    return {**summarise(checks), "latency_ms": percentiles(latencies)}


def answer_out(answer):
    """An answer as the /ask response model: the core Answer converted as the API converts it; a dict validated."""
    from service.schemas import AnswerOut

    return AnswerOut.model_validate(answer) if isinstance(answer, Mapping) else AnswerOut.from_answer(answer)


def contract_dict(answer) -> Mapping:
    """An answer as the /ask JSON: dicts as they are, the core Answer through the HTTP response model."""
    if isinstance(answer, Mapping):
        return answer
    from service.schemas import AnswerOut

    return AnswerOut.from_answer(answer).model_dump(mode="json")


def evaluate_answer_quality(gold, answerer: TimedAnswerer, top_hit: TopHit | None, progress: bool = False) -> dict:
    """Score every gold-answered question's answer and the lead baseline (eval.answer_quality's figures)."""
    from eval.answer_quality import aggregate, brief_answer, contract_problems, lead, score_answer, score_lead

    per_query: dict[str, dict] = {}
    for g in bar(gold, "scoring answers", progress):
        answer, answer_ms = answerer(g.question)
        result = contract_dict(answer)
        t0 = time.perf_counter()
        lead_text = lead(top_hit(g.question)) if top_hit else None
        lead_ms = (time.perf_counter() - t0) * 1000.0 if top_hit else None
        lead_scores = score_lead(g, lead_text) if lead_text is not None else {}
        per_query[g.query_id] = {
            **score_answer(g, result), **lead_scores, "violations": contract_problems(result),
            "answer_ms": answer_ms, "lead_ms": lead_ms, "answer": brief_answer(result), "lead": lead_text,
            "ideal": g.ideal, "exact": list(g.exact),
        }
    answer_ms = [r["answer_ms"] for r in per_query.values()]
    return {**aggregate(per_query), "latency_ms": percentiles(answer_ms), "per_query": per_query}


def run_paths(output: Path, names: Iterable[str]) -> dict[str, Path]:
    """Where each retriever's TREC run file goes: next to the JSON output, <stem>.<retriever>.run."""
    return {name: output.with_name(f"{output.stem}.{name}.run") for name in names}


def _align(rows: list[list[str]]) -> list[str]:
    """Rows as text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def _figure(value) -> str:
    """A mean with four decimals, "-" when there was nothing to average."""
    return "-" if value is None else f"{value:.4f}"


def format_answer_quality(quality: Mapping) -> list[str]:
    """The answer-quality table: each figure for the answers and for the lead baseline."""
    from eval.answer_quality import ANSWER_MEASURES, LEAD_OF

    rows = [["measure", "answer", "lead"]]
    for m in ANSWER_MEASURES:
        rows.append([m, _figure(quality.get(m)), _figure(quality.get(LEAD_OF[m])) if m in LEAD_OF else ""])
    rows.append(["abstained", _figure(quality.get("abstained")), ""])
    rows.append(["points", _figure(quality.get("points")), ""])
    lat = quality.get("latency_ms", {})
    return [f"answer quality ({quality['n']} questions with gold answers; lead = first two sentences of the top hit)",
            *_align(rows),
            f"contract violations: {quality['contract_violations']}; answer p50 {lat.get('p50', 0):.1f} ms, "
            f"p95 {lat.get('p95', 0):.1f} ms"]


def format_table(result: Mapping) -> str:
    """Retrievers as rows, measures and latency as columns, then the answer-level lines and tables."""
    measures = list(next(iter(result["retrievers"].values()), {}))
    rows = [["retriever", *measures, "p50 ms", "p95 ms"]]
    for name, scores in result["retrievers"].items():
        lat = result["latency_ms"].get(name, {})
        rows.append([name, *(f"{scores[m]:.4f}" for m in measures), f"{lat.get('p50', 0):.1f}", f"{lat.get('p95', 0):.1f}"])
    lines = _align(rows)
    ds = result["dataset"]
    lines.insert(0, f"{ds['path']}: {ds['documents']} documents, {ds['queries']} queries, {ds['qrels']} judgments; model {result['model']}")
    ans = result.get("answers")
    if isinstance(ans, Mapping) and "faithfulness" in ans:
        lines.append(
            f"answers ({ans['queries']} queries): faithfulness {ans['faithfulness']:.4f}, citation validity "
            f"{ans['citation_validity']:.4f}, abstention {ans['abstention_rate']:.4f}, hit rate {ans['hit_rate']:.4f}, "
            f"claims opening with a back-reference {ans.get('leaning_openings', 0)}, "
            f"p50 {ans['latency_ms']['p50']:.1f} ms"
        )
    elif isinstance(ans, Mapping) and ans.get("skipped"):
        lines.append(f"answers: skipped ({ans['skipped']})")
    if isinstance(result.get("answer_quality"), Mapping):
        lines += format_answer_quality(result["answer_quality"])
    per_query = result.get("time_per_query_ms")
    if isinstance(per_query, Mapping):
        parts = [f"{name} {ms:.1f}" for name, ms in per_query.get("retrieval", {}).items()]
        parts += [f"{what} {per_query[what]:.1f}" for what in ("answer", "lead") if per_query.get(what) is not None]
        lines.append("mean time per query (ms): " + ", ".join(parts))
    return "\n".join(lines)


def parse_fusion(text: str | Mapping | None) -> dict:
    """Fusion overrides from "alpha=0.6,method=convex" (or a mapping); values are converted later."""
    if not text:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--fusion expects KEY=VALUE[,KEY=VALUE], got {part.strip()!r}")
        out[key.strip()] = value.strip()
    return out


def apply_fusion(index, overrides: Mapping) -> dict:
    """Replace fields of the index's fusion settings for this run (the index on disk is not changed).

    Each value takes the type of the field it replaces, so the same KEY=VALUE works whatever the fields are.
    """
    from dataclasses import fields as dc_fields

    current = index.fusion
    known = {f.name: getattr(current, f.name) for f in dc_fields(current)}
    unknown = [k for k in overrides if k not in known]
    if unknown:
        raise ValueError(f"unknown fusion setting(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    converted = {}
    for key, value in overrides.items():
        kind = type(known[key])
        try:
            converted[key] = value if isinstance(value, kind) else kind(value)
        except ValueError:
            raise ValueError(f"--fusion {key}={value}: expected {kind.__name__}") from None
    index.fusion = replace(current, **converted)
    return index.fusion.to_dict() if hasattr(index.fusion, "to_dict") else dict(index.fusion.__dict__)


def mean_ms(values: Iterable[float | None]) -> float | None:
    """Mean of the timings that exist, rounded to microseconds."""
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 3) if kept else None


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
    top_k: int = SOURCE_DOCUMENTS,
    embedder=None,
    rankers: Mapping[str, Ranker] | None = None,
    answerer: Answerer | None = None,
    top_hit: TopHit | None = None,
    fusion: str | Mapping | None = None,
    baseline: str | Path | None = None,
    report: str | Path | None = None,
    ingest: bool = True,
    stdout: TextIO | None = None,
    progress: bool = True,
    settings=None,
) -> dict:
    """Evaluate retrievers (and answers) on a BEIR dataset; print a table, write JSON/run files/plot; return the JSON.

    `rankers` replaces the index (tests, other systems); `answerer` replaces service.answer and `top_hit` the
    index's search for the lead baseline; `fusion` overrides hybrid fusion settings for this run;
    `baseline` compares this run with an earlier output; `top_k` is the documents each answer quotes from; `ingest=False` evaluates an existing index as it is;
    `settings` (service.settings.Settings, default: the environment's) name the model and the ingest options.
    """
    out = stdout or sys.stdout
    ds = subset(load_beir(dataset), max_queries)
    gold = load_gold_answers(Path(dataset), max_queries) if answers else []  # a bad answers.jsonl fails now
    parsed = parse_measures(measures)
    names = parse_retrievers(retrievers, known=rankers.keys() if rankers is not None else RETRIEVERS)
    overrides = parse_fusion(fusion)
    baseline_result = None
    if baseline:
        from eval.compare import load_output

        baseline_result = load_output(Path(baseline))  # fail before the long run, not after it
    index, model, chunks, index_config, fusion_used = None, getattr(embedder, "name", ""), 0, {}, None
    if rankers is None:
        if settings is None:
            from service.settings import Settings

            settings = Settings()
        if embedder is None:
            from index.embedder import load_embedder

            embedder = load_embedder(**settings.embedder_options())
        model = embedder.name
        index_dir = Path(index_dir) if index_dir else default_index_dir(Path(dataset), model)
        index = open_index(ds, index_dir, embedder, progress=progress, ingest=ingest,
                           ingest_options=settings.ingest_options())
        if overrides:
            fusion_used = apply_fusion(index, overrides)
        rankers = {name: index_ranker(index, name) for name in names}
        manifest = getattr(index, "manifest", {}) or {}
        model, chunks, index_config = manifest.get("model", model), len(index), index_settings(manifest)
        if getattr(index, "fusion", None) is not None:  # the fusion hybrid search used (a query-time setting)
            index_config["fusion"] = index.fusion.to_dict()
    elif overrides:
        raise ValueError("--fusion needs an index (it changes how hybrid search fuses its rankings)")
    runs = [rank_queries(name, ds.queries, rankers[name], progress=progress) for name in names]
    curves = {r.name: recall_curve(r.run, ds.qrels) for r in runs}
    result = {
        "dataset": {"path": str(dataset), "documents": ds.documents, "queries": len(ds.queries), "qrels": len(ds.qrels)},
        "model": model,
        "index": {"chunks": chunks, "settings": index_config, **({"fusion": fusion_used} if fusion_used else {})},
        "retrievers": {r.name: evaluate(r.run, ds.qrels, parsed) for r in runs},
        "latency_ms": {r.name: percentiles(r.latencies_ms) for r in runs},
        "options": {"max_queries": max_queries, "top_k": top_k, "fusion": {k: str(v) for k, v in overrides.items()}},
        "per_query": {
            "questions": dict(ds.queries),
            "retrievers": {r.name: per_query_scores(r.run, ds.qrels, parsed) for r in runs},
            "retrieval_ms": {r.name: {q: round(ms, 3) for q, ms in zip(r.run, r.latencies_ms)} for r in runs},
        },
        "recall_curves": {name: {str(k): v for k, v in curve.items()} for name, curve in curves.items()},
        "time_per_query_ms": {"retrieval": {r.name: mean_ms(r.latencies_ms) for r in runs}},
    }
    if answers:
        answerer = answerer or (index_answerer(index, embedder, top_k) if index is not None else None)
        top_hit = top_hit or (index_top_hit(index) if index is not None else None)
        add_answer_results(result, ds, gold, answerer, top_hit, answer_queries, progress)
    if baseline_result is not None:
        from eval.compare import compare

        result["comparison"] = compare(baseline_result, result, a_name=Path(baseline).name, b_name="this run")
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

        plot_recall(curves, Path(plot), title=f"Recall@k on {Path(dataset).name} ({len(ds.queries)} queries)")
    if report:
        from eval.report import write_report

        write_report(result, Path(report))
    print(format_table(result), file=out)
    if "comparison" in result:
        from eval.compare import format_comparison

        print(format_comparison(result["comparison"]), file=out)
    return result


def load_gold_answers(dataset: Path, max_queries: int | None = None) -> list:
    """The dataset's gold answers (the first `max_queries`), or [] when it has no answers.jsonl.

    Every query may have one, judged or not (answer_bench.py asks them all).
    """
    from eval.answer_quality import ANSWERS_FILE, load_gold
    from eval.beir import load_queries

    path = dataset / ANSWERS_FILE
    return load_gold(path, load_queries(dataset / "queries.jsonl"))[:max_queries] if path.is_file() else []


def add_answer_results(result: dict, ds: BeirDataset, gold: list, answerer: Answerer | None, top_hit: TopHit | None,
                       answer_queries: int | None, progress: bool) -> None:
    """Answer the questions once; add the answer checks, answer quality (with gold answers) and their timings."""
    if answerer is None:
        result["answers"] = {"skipped": "no answer service (service.answer) available"}
        return
    timed = TimedAnswerer(answerer)
    result["answers"] = evaluate_answers(ds, timed, answer_queries, progress=progress)
    if gold:
        quality = evaluate_answer_quality(gold, timed, top_hit, progress=progress)
        result["answer_quality"] = quality
        result["per_query"]["questions"].update({g.query_id: g.question for g in gold})
        result["time_per_query_ms"]["lead"] = mean_ms(r["lead_ms"] for r in quality["per_query"].values())
    result["time_per_query_ms"]["answer"] = mean_ms(ms for _, ms in timed.answers.values())


def compare_outputs(a: str | Path, b: str | Path, output: str | Path | None = None, report: str | Path | None = None,
                    stdout: TextIO | None = None) -> dict:
    """`medcite eval --compare A.json B.json`: print B against A; write the comparison JSON and a report of B."""
    from eval.compare import compare, format_comparison, load_output

    first, second = load_output(Path(a)), load_output(Path(b))
    comparison = compare(first, second, a_name=Path(a).name, b_name=Path(b).name)
    print(format_comparison(comparison), file=stdout or sys.stdout)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    if report:
        from eval.report import write_report

        write_report({**second, "comparison": comparison}, Path(report))
    return comparison
