"""Load a BEIR-layout dataset: corpus.jsonl, queries.jsonl, qrels/test.tsv (graded relevance allowed)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """The dataset directory does not follow the BEIR layout; the message names what is wrong."""


@dataclass(frozen=True)
class Qrel:
    """One relevance judgment: `relevance` >= 1 counts as relevant for binary measures."""

    query_id: str
    doc_id: str
    relevance: int


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset restricted to the queries that have judgments."""

    path: Path
    corpus_path: Path
    documents: int  # lines in corpus.jsonl
    queries: dict[str, str]  # query id -> text, only judged queries, in file order
    qrels: tuple[Qrel, ...]

    def relevant(self, query_id: str, min_relevance: int = 1) -> set[str]:
        """Doc ids judged at least `min_relevance` for a query."""
        return {q.doc_id for q in self.qrels if q.query_id == query_id and q.relevance >= min_relevance}

    def relevance_map(self) -> dict[str, dict[str, int]]:
        """query id -> doc id -> graded relevance."""
        out: dict[str, dict[str, int]] = {}
        for q in self.qrels:
            out.setdefault(q.query_id, {})[q.doc_id] = q.relevance
        return out


def _require(path: Path, what: str) -> Path:
    """The path if it is a file, else a DatasetError that says what the BEIR layout expects."""
    if not path.is_file():
        raise DatasetError(f"{path} not found: a BEIR dataset needs {what}")
    return path


def _read_jsonl(path: Path):
    """(line number, object) for every non-blank line; bad JSON names its line."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: invalid JSON ({exc.msg})") from None


def count_documents(corpus_path: Path) -> int:
    """Number of documents in corpus.jsonl (one per non-blank line)."""
    with corpus_path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def load_queries(path: Path) -> dict[str, str]:
    """query id -> text from queries.jsonl (`_id`, `text`)."""
    queries: dict[str, str] = {}
    for n, obj in _read_jsonl(path):
        if "_id" not in obj or "text" not in obj:
            raise DatasetError(f"{path}:{n}: a query needs '_id' and 'text'")
        queries[str(obj["_id"])] = str(obj["text"])
    return queries


def load_qrels(path: Path) -> list[Qrel]:
    """Judgments from a tab-separated qrels file (query-id, corpus-id, score), header optional."""
    qrels: list[Qrel] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(parts) != 3:
                raise DatasetError(f"{path}:{n}: expected 3 tab-separated columns (query-id, corpus-id, score)")
            try:
                score = int(float(parts[2]))
            except ValueError:
                if n == 1:  # the BEIR header line "query-id corpus-id score"
                    continue
                raise DatasetError(f"{path}:{n}: score {parts[2]!r} is not a number") from None
            qrels.append(Qrel(parts[0].strip(), parts[1].strip(), score))
    return qrels


def load_beir(path: str | Path, split: str = "test") -> BeirDataset:
    """Read a BEIR dataset; queries without judgments (or judgments without queries) are left out."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory: --dataset expects a BEIR dataset folder")
    corpus = _require(root / "corpus.jsonl", "corpus.jsonl (one JSON document per line: _id, title, text)")
    queries = load_queries(_require(root / "queries.jsonl", "queries.jsonl (one JSON query per line: _id, text)"))
    qrels = load_qrels(_require(root / "qrels" / f"{split}.tsv", f"qrels/{split}.tsv (query-id, corpus-id, score)"))
    judged = {q.query_id for q in qrels}
    kept = {qid: text for qid, text in queries.items() if qid in judged}
    if not kept:
        raise DatasetError(f"{root}: no query in queries.jsonl has a judgment in qrels/{split}.tsv")
    return BeirDataset(
        path=root, corpus_path=corpus, documents=count_documents(corpus), queries=kept,
        qrels=tuple(q for q in qrels if q.query_id in kept),
    )
