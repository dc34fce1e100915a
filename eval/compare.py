"""Compare two `medcite eval` outputs query by query: differences, paired significance, biggest wins and losses.

Each measure (every retriever's ir-measures scores, every answer-quality figure) is compared over the
queries both runs scored, with a paired randomization test (scipy.stats.permutation_test, swapping the two
runs' scores within each query: Smucker, Allan & Carterette, CIKM 2007, recommend it for IR) of the mean
difference. Testing many measures at once inflates false alarms, so the p-values are adjusted with Holm's
step-down method, which controls the family-wise error rate without assuming independent measures.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy import stats

from eval.answer_quality import ANSWER_MEASURES, LEAD_MEASURES

RESAMPLES = 10_000  # randomization rounds: the p-value's Monte Carlo error is at most ~0.005 at p = 0.05
SEED = 20071106  # fixed so that the same two runs always give the same p-values (CIKM 2007's first day)
ALPHA = 0.05  # significance level of the Holm-adjusted p-values
STRONG_ALPHA = 0.01  # a second mark for stronger evidence
TOP = 5  # queries listed as most improved / most worsened
BATCH = 1000  # resamples computed at once: bounds memory at BATCH x queries floats
# the answer figures compared; "points" (a count, not a quality) is left out
COMPARED_ANSWER_MEASURES = (*ANSWER_MEASURES, *LEAD_MEASURES, "abstained")
PRIMARY_ANSWER_MEASURE = "rouge2_r"
PRIMARY_RETRIEVER = "hybrid"


class CompareError(ValueError):
    """The two outputs cannot be compared (not eval outputs, no per-query scores, nothing in common)."""


@dataclass(frozen=True)
class MeasureComparison:
    """One measure in run A and run B over the queries both scored."""

    group: str  # "retrieval" or "answers"
    name: str  # e.g. "hybrid nDCG@10" or "rouge2_r"
    n: int
    a: float
    b: float
    p: float
    p_holm: float = 1.0

    @property
    def delta(self) -> float:
        """Mean of B minus mean of A."""
        return self.b - self.a

    def mark(self) -> str:
        """"**" when Holm-adjusted p < 0.01, "*" when < 0.05, else ""."""
        return "**" if self.p_holm < STRONG_ALPHA else "*" if self.p_holm < ALPHA else ""

    def to_dict(self) -> dict:
        """JSON-ready, with the delta and the significance mark."""
        return {"group": self.group, "measure": self.name, "n": self.n, "a": self.a, "b": self.b,
                "delta": self.delta, "p": self.p, "p_holm": self.p_holm, "significant": self.p_holm < ALPHA}


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """The test statistic: mean over queries of x - y."""
    return np.mean(x - y, axis=axis)


def paired_p_value(b: np.ndarray, a: np.ndarray) -> float:
    """Two-sided p-value of a paired randomization test of mean(b - a) (exact for 13 queries or fewer)."""
    b, a = np.asarray(b, dtype=float), np.asarray(a, dtype=float)
    if len(a) < 2 or np.array_equal(a, b):
        return 1.0
    result = stats.permutation_test((b, a), _mean_difference, permutation_type="samples", vectorized=True,
                                    n_resamples=RESAMPLES, alternative="two-sided", batch=BATCH,
                                    random_state=np.random.default_rng(SEED))
    return float(result.pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given.

    Step-down: the i-th smallest p (0-based) is multiplied by (m - i), running maxima keep the order,
    capped at 1. (statsmodels' multipletests(method="holm") computes the same but brings pandas and patsy.)
    """
    m = len(p_values)
    adjusted = [1.0] * m
    running = 0.0
    for i, idx in enumerate(sorted(range(m), key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - i) * p_values[idx]))
        adjusted[idx] = running
    return adjusted


def load_output(path: Path) -> dict:
    """An eval JSON output, with a clear error when it is not one or has no per-query scores."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{Path(path).name}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompareError(f"{Path(path).name}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or "retrievers" not in data:
        raise CompareError(f"{Path(path).name}: not a `medcite eval --output` file")
    if "per_query" not in data:
        raise CompareError(f"{Path(path).name}: has no per-query scores (written by an older medcite eval: rerun it)")
    return data


def per_query_measures(result: Mapping) -> dict[tuple[str, str], dict[str, float]]:
    """(group, measure name) -> query id -> score, for every measure of an eval output."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for retriever, scores in (result.get("per_query", {}).get("retrievers") or {}).items():
        for qid, values in scores.items():
            for measure, value in values.items():
                out.setdefault(("retrieval", f"{retriever} {measure}"), {})[qid] = float(value)
    answers = (result.get("answer_quality") or {}).get("per_query") or {}
    for measure in COMPARED_ANSWER_MEASURES:
        scores = {qid: float(r[measure]) for qid, r in answers.items() if r.get(measure) is not None}
        if scores:
            out[("answers", measure)] = scores
    return out


def questions_of(result: Mapping) -> dict[str, str]:
    """query id -> question text of an eval output."""
    return dict((result.get("per_query") or {}).get("questions") or {})


def compare_measures(a: Mapping, b: Mapping) -> list[MeasureComparison]:
    """Every measure both outputs have, compared over the queries both scored, with Holm-adjusted p-values."""
    ma, mb = per_query_measures(a), per_query_measures(b)
    rows = []
    for key in [k for k in mb if k in ma]:
        qids = [q for q in mb[key] if q in ma[key]]
        if not qids:
            continue
        va = np.array([ma[key][q] for q in qids])
        vb = np.array([mb[key][q] for q in qids])
        rows.append(MeasureComparison(key[0], key[1], len(qids), float(va.mean()), float(vb.mean()),
                                      paired_p_value(vb, va)))
    adjusted = holm([r.p for r in rows])
    return [MeasureComparison(r.group, r.name, r.n, r.a, r.b, r.p, p) for r, p in zip(rows, adjusted)]


def primary_measures(a: Mapping, b: Mapping) -> list[tuple[str, str]]:
    """The measures whose biggest per-query changes are listed: the first measure of the hybrid (or first)
    retriever, and ROUGE-2 recall of the answers."""
    both = set(per_query_measures(a)) & set(per_query_measures(b))
    retrievers = list(b.get("retrievers") or {})
    chosen = []
    if retrievers:
        name = PRIMARY_RETRIEVER if PRIMARY_RETRIEVER in retrievers else retrievers[0]
        first = next(iter(b["retrievers"][name]), None)
        if first and ("retrieval", f"{name} {first}") in both:
            chosen.append(("retrieval", f"{name} {first}"))
    if ("answers", PRIMARY_ANSWER_MEASURE) in both:
        chosen.append(("answers", PRIMARY_ANSWER_MEASURE))
    return chosen


def biggest_changes(a: Mapping, b: Mapping, key: tuple[str, str], top: int = TOP) -> dict[str, list[dict]]:
    """The `top` queries whose score rose most and fell most from A to B (unchanged queries are not listed)."""
    sa, sb = per_query_measures(a)[key], per_query_measures(b)[key]
    questions = {**questions_of(a), **questions_of(b)}
    deltas = [(sb[q] - sa[q], q) for q in sb if q in sa]
    row = lambda d, q: {"query_id": q, "question": questions.get(q, ""), "a": sa[q], "b": sb[q], "delta": d}
    won = sorted((x for x in deltas if x[0] > 0), key=lambda x: (-x[0], x[1]))[:top]
    lost = sorted((x for x in deltas if x[0] < 0), key=lambda x: (x[0], x[1]))[:top]
    return {"improved": [row(d, q) for d, q in won], "worsened": [row(d, q) for d, q in lost]}


def per_query_deltas(a: Mapping, b: Mapping, key: tuple[str, str]) -> dict[str, float]:
    """query id -> B's score minus A's, over the queries both scored."""
    sa, sb = per_query_measures(a)[key], per_query_measures(b)[key]
    return {q: sb[q] - sa[q] for q in sb if q in sa}


def settings_of(result: Mapping) -> dict:
    """What distinguishes a run: model, index settings and the eval options."""
    return {"model": result.get("model"), "settings": (result.get("index") or {}).get("settings"),
            "options": result.get("options")}


def compare(a: Mapping, b: Mapping, a_name: str = "A", b_name: str = "B") -> dict:
    """The comparison of run B against run A, JSON-ready."""
    measures = compare_measures(a, b)
    if not measures:
        raise CompareError("the two outputs have no measure scored on common queries (different datasets?)")
    return {
        "a": a_name, "b": b_name,
        "test": f"paired randomization test of the mean difference ({RESAMPLES} resamples), Holm-adjusted",
        "alpha": ALPHA,
        "measures": [m.to_dict() for m in measures],
        "changes": {f"{g}: {n}": biggest_changes(a, b, (g, n)) for g, n in primary_measures(a, b)},
        "deltas": {n: per_query_deltas(a, b, (g, n)) for g, n in primary_measures(a, b)},
        "settings": {"a": settings_of(a), "b": settings_of(b)},
        "a_recall_curves": a.get("recall_curves") or {},
    }


def _fmt(value: float) -> str:
    """A score with four decimals, signed for deltas elsewhere."""
    return f"{value:.4f}"


def format_comparison(comparison: Mapping) -> str:
    """Measures as rows (A, B, delta, p, Holm p, mark), then the most improved and worsened queries."""
    head = ["measure", "n", "A", "B", "delta", "p", "p (Holm)", ""]
    rows = [head]
    for m in comparison["measures"]:
        mark = "**" if m["p_holm"] < STRONG_ALPHA else "*" if m["p_holm"] < ALPHA else ""
        rows.append([m["measure"], str(m["n"]), _fmt(m["a"]), _fmt(m["b"]), f"{m['delta']:+.4f}",
                     f"{m['p']:.4f}", f"{m['p_holm']:.4f}", mark])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"B = {comparison['b']} against A = {comparison['a']}: {comparison['test']}; "
             f"* p < {ALPHA}, ** p < {STRONG_ALPHA}"]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
              for r in rows]
    for measure, change in comparison["changes"].items():
        for label, key in (("most improved", "improved"), ("most worsened", "worsened")):
            lines.append(f"{label} on {measure}:" + ("" if change[key] else " none"))
            for c in change[key]:
                lines.append(f"  {c['delta']:+.4f} ({_fmt(c['a'])} -> {_fmt(c['b'])})  {c['query_id']}: "
                             f"{_one_line(c['question'])}")
    return "\n".join(lines)


def _one_line(text: str, width: int = 90) -> str:
    """A question on one line, shortened, control characters (terminal escapes) shown as "?"."""
    flat = "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))
    return flat if len(flat) <= width else flat[: width - 3] + "..."
