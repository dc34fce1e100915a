"""Answer quality against gold answers (answers.jsonl), with the definitions of ../shared/tools/answer_bench.py.

A dataset folder may hold `answers.jsonl`, one gold answer per line: `{"query_id", "ideal", "snippets",
"exact"}` (the layout of the PubMedQA and COVID-QA folders). Every figure below is defined exactly as
answer_bench.py defines it, so `medcite eval` and a benchmark against a server on the same index agree to
the last digit (tests/test_eval_answer_quality.py runs both):

  summary_gold   the summary lies inside a gold snippet (>= 70% of its tokens occur in one snippet)
  point_prec     share of the points that lie inside a gold snippet (same test)
  snip_recall    share of the gold snippets the whole answer covers (>= 50% of a snippet's tokens)
  rouge2_r/_p    ROUGE-2 recall / precision of the ideal answer by the whole answer (summary + points)
  exact_sum/_ans an exact answer string occurs in the summary / anywhere in the answer
  lead_*         the same for the lead baseline: the first two sentences of the top search hit

Tokens are `[a-z0-9]+` runs of the lowercased text. ROUGE-2 comes from Google's rouge-score package,
configured without stemming: its tokenizer (lowercase, non-alphanumerics as separators) then yields the
same tokens and the same clipped bigram counts as answer_bench.py (checked by a test).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from eval.beir import DatasetError

ANSWERS_FILE = "answers.jsonl"
TOKEN = re.compile(r"[a-z0-9]+")  # answer_bench.py's tokenizer, applied to lowercased text
INSIDE_SHARE = 0.7  # answer_bench.py: a sentence lies "inside" a snippet when 70% of its tokens are in it
COVERED_SHARE = 0.5  # answer_bench.py: a snippet is "covered" when 50% of its tokens occur in the answer
LEAD_SENTENCES = 2  # answer_bench.py's lead baseline: the first two sentences of the top hit
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # answer_bench.py's sentence split for the lead
MARKERS = re.compile(r"\s*\[[\d,\s]+\]")  # interface v1 appended "[1]" markers to the summary
# PubMedQA's exact answers are decisions, not strings an extractive answer could contain
DECISION_LABELS = ("yes", "no", "maybe")

# per-answer figures in answer_bench.py's order; the lead baseline's figures follow
ANSWER_MEASURES = ("summary_gold", "point_prec", "snip_recall", "rouge2_r", "rouge2_p", "exact_sum", "exact_ans")
LEAD_MEASURES = ("lead_gold", "lead_rouge2_r", "lead_rouge2_p", "lead_exact")
MEASURES = (*ANSWER_MEASURES, *LEAD_MEASURES, "abstained", "points")
# the answer figure each lead figure is the baseline of, for side-by-side tables
LEAD_OF = {"summary_gold": "lead_gold", "rouge2_r": "lead_rouge2_r", "rouge2_p": "lead_rouge2_p",
           "exact_sum": "lead_exact"}


@dataclass(frozen=True)
class GoldAnswer:
    """One question's gold answer: the ideal text, the evidence snippets, the exact answer strings."""

    query_id: str
    question: str
    ideal: str
    snippets: tuple[str, ...]
    exact: tuple[str, ...]


def exact_strings(exact: Any) -> tuple[str, ...]:
    """The exact answer strings of a gold answer (nested lists flattened), without yes/no/maybe labels."""
    out: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, str):
            if x.strip() and x.strip().lower() not in DECISION_LABELS:
                out.append(x.strip())
        elif isinstance(x, list):
            for y in x:
                walk(y)

    walk(exact)
    return tuple(out)


def load_gold(path: Path, queries: Mapping[str, str]) -> list[GoldAnswer]:
    """Gold answers in file order, for the queries that exist and have at least one snippet (as answer_bench)."""
    gold = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path.name}:{n}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict) or "query_id" not in obj:
                raise DatasetError(f"{path.name}:{n}: a gold answer needs 'query_id', 'ideal', 'snippets'")
            snippets = obj.get("snippets") or []
            if not isinstance(snippets, list) or not all(isinstance(s, str) for s in snippets):
                raise DatasetError(f"{path.name}:{n}: 'snippets' must be a list of strings")
            qid = str(obj["query_id"])
            if qid in queries and snippets:
                gold.append(GoldAnswer(qid, queries[qid], str(obj.get("ideal") or ""), tuple(snippets),
                                       exact_strings(obj.get("exact"))))
    return gold


def tokens(text: str | None) -> list[str]:
    """Lowercased `[a-z0-9]+` tokens."""
    return TOKEN.findall((text or "").lower())


def inside(text: str, snippets: Iterable[str], share: float = INSIDE_SHARE) -> bool:
    """True when at least `share` of the text's tokens occur in one snippet."""
    t = tokens(text)
    if not t:
        return False
    for snippet in snippets:
        vocab = set(tokens(snippet))
        if vocab and sum(w in vocab for w in t) >= share * len(t):
            return True
    return False


def covered(snippet: str, answer_tokens: set[str], share: float = COVERED_SHARE) -> bool:
    """True when at least `share` of the snippet's tokens occur in the answer."""
    st = tokens(snippet)
    return bool(st) and sum(w in answer_tokens for w in st) >= share * len(st)


@lru_cache(maxsize=1)
def _rouge2_scorer():
    """rouge-score's ROUGE-2 scorer, without stemming (answer_bench.py does not stem)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge2"], use_stemmer=False)


def rouge2(ideal: str, text: str) -> tuple[float, float]:
    """ROUGE-2 (recall, precision) of the ideal answer by the text."""
    score = _rouge2_scorer().score(ideal or "", text or "")["rouge2"]
    return score.recall, score.precision


def contains_exact(text: str, exacts: Sequence[str]) -> bool:
    """True when an exact answer string occurs in the text (case-insensitive)."""
    low = text.lower()
    return any(e.lower() in low for e in exacts)


def lead(hit_text: str) -> str:
    """The lead baseline: the first two sentences of the top hit's text."""
    return " ".join(SENTENCE_END.split(hit_text.strip())[:LEAD_SENTENCES]) if hit_text else ""


def summary_text(answer: Mapping) -> str:
    """The summary as plain text: as it is in interface v2, without "[n]" markers in v1."""
    summary = answer.get("summary") or ""
    return summary if "summary_citations" in answer else MARKERS.sub("", summary)


def _norm(text: str) -> str:
    """Whitespace collapsed, for the verbatim test."""
    return re.sub(r"\s+", " ", text or "").strip()


def _claims(answer: Mapping) -> list[tuple[str, list[int]]]:
    """(text, citation numbers) of the summary then each point; v1 summaries carry their numbers as markers."""
    summary = answer.get("summary") or ""
    if "summary_citations" in answer:
        items = [(summary, list(answer["summary_citations"] or []))]
    else:
        numbers = re.findall(r"\d+", " ".join(re.findall(r"\[[\d,\s]+\]", summary)))
        items = [(MARKERS.sub("", summary), [int(n) for n in numbers])]
    return items + [(p["text"], list(p.get("citations") or [])) for p in answer.get("points") or []]


def contract_problems(answer: Mapping) -> list[str]:
    """What in one /ask answer breaks the contract: disclaimer, numbering, citations, verbatim text, order."""
    problems = []
    if not answer.get("disclaimer"):
        problems.append("no disclaimer")
    if answer.get("abstained"):
        return problems
    refs = {r["number"]: r for r in answer.get("references") or []}
    if sorted(refs) != list(range(1, len(refs) + 1)):
        problems.append(f"numbering {sorted(refs)}")
    order: list[int] = []
    for text, cits in _claims(answer):
        if not cits:
            problems.append(f"uncited: {text[:60]}")
            continue
        for c in cits:
            if c not in refs:
                problems.append(f"[{c}] unresolved")
            elif c not in order:
                order.append(c)
        if not any(_norm(text) in _norm(p["text"]) for c in cits if c in refs for p in refs[c].get("passages") or []):
            problems.append(f"not verbatim: {text[:80]}")
    if order != sorted(order) or set(order) != set(refs):
        problems.append("references not in order of first citation, or uncited")
    return problems


def score_lead(gold: GoldAnswer, lead_text: str) -> dict[str, Any]:
    """The lead baseline's figures for one question (lead_exact is None without exact strings)."""
    r, p = rouge2(gold.ideal, lead_text)
    return {"lead_gold": inside(lead_text, gold.snippets), "lead_rouge2_r": r, "lead_rouge2_p": p,
            "lead_exact": contains_exact(lead_text, gold.exact) if gold.exact else None}


def score_answer(gold: GoldAnswer, answer: Mapping) -> dict[str, Any]:
    """One answer's figures; None marks a figure answer_bench.py leaves out of its mean for this question.

    An abstention scores 0 on summary_gold, snip_recall and ROUGE and False on the exact figures; it has no
    point_prec or points. point_prec also needs at least one point; the exact figures need exact strings.
    """
    has_exact = bool(gold.exact)
    if answer.get("abstained"):
        return {"summary_gold": 0.0, "point_prec": None, "snip_recall": 0.0, "rouge2_r": 0.0, "rouge2_p": 0.0,
                "exact_sum": False if has_exact else None, "exact_ans": False if has_exact else None,
                "abstained": True, "points": None}
    summary = summary_text(answer)
    points = [p["text"] for p in answer.get("points") or []]
    whole = " ".join([summary] + points)
    whole_tokens = set(tokens(whole))
    r, p = rouge2(gold.ideal, whole)
    return {
        "summary_gold": inside(summary, gold.snippets),
        "point_prec": sum(inside(t, gold.snippets) for t in points) / len(points) if points else None,
        "snip_recall": sum(covered(s, whole_tokens) for s in gold.snippets) / len(gold.snippets),
        "rouge2_r": r, "rouge2_p": p,
        "exact_sum": contains_exact(summary, gold.exact) if has_exact else None,
        "exact_ans": contains_exact(whole, gold.exact) if has_exact else None,
        "abstained": False, "points": len(points),
    }


def mean(values: Iterable[Any]) -> float | None:
    """Mean of the values that are not None (booleans count 0/1), summed in order; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def aggregate(per_query: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """answer_bench.py's summary line: the mean of each figure, the question count, the contract violations."""
    rows = list(per_query.values())
    out: dict[str, Any] = {m: mean(r.get(m) for r in rows) for m in MEASURES}
    out["n"] = len(rows)
    out["contract_violations"] = sum(len(r.get("violations") or ()) for r in rows)
    return out


def brief_answer(answer: Mapping) -> dict[str, Any]:
    """What the report shows of an answer: summary, points with citation numbers, references without passages."""
    ref_keys = ("number", "doc_id", "title", "source", "url", "year", "type", "journal", "page", "pages")
    return {
        "abstained": bool(answer.get("abstained")),
        "summary": summary_text(answer),
        "summary_citations": _claims(answer)[0][1],
        "points": [{"text": p.get("text", ""), "citations": list(p.get("citations") or []),
                    "section": p.get("section")} for p in answer.get("points") or []],
        "references": [{k: r[k] for k in ref_keys if k in r} for r in answer.get("references") or []],
        "uncovered": list(answer.get("uncovered") or []),
    }
