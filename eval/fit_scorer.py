"""Fit the sentence scorer (service/models/sentence_scorer.json) on labelled question-sentence pairs.

    python -m eval.fit_scorer \\
        --source pubmedqa=../shared/data/pubmedqa@/work/idx/select-pmq \\
        --source covidqa=../shared/data/covidqa@/work/idx/select-cqa \\
        --source corpus=eval/labels/corpus_labels.jsonl@/work/idx/select-corpus \\
        --output service/models/sentence_scorer.json

Each source is `NAME=DATA@INDEX`: DATA is a dataset with answers.jsonl (PubMedQA: a sentence inside the
gold conclusion is positive; COVID-QA: the sentence holding the exact answer span is positive), a
BEIR dataset without answers (MedQuAD dev: a sentence of the judged passage is positive), or a
corpus_labels.jsonl (graded 0/1/2 by hand); INDEX is a medcite index of that data. Every question goes
through the answer path's own retrieve and candidate stages, so the features are exactly those served.
Each question is in a train or a held-out part (PubMedQA's own dev/test split, the labels' "split", a
hash of the question id elsewhere); gradient-boosted trees are fitted on the train parts, with every
source weighing the same in total (half on its positives) so that no single dataset's wording decides,
and reported per source on the held-out parts, beside a logistic regression fitted on the same rows.
Needs scikit-learn (the `test` extra); serving applies the exported trees with numpy only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.answer import CANDIDATE_CHUNKS  # the answer path's own number, so features are those served
from service.candidates import FEATURES, build_candidates
from service.retrieve import retrieve
from service.scoring import scorer_from_dict

# Questions whose id hashes into this share are held out (sources without a split of their own).
HELDOUT_SHARE = 0.3
# A point must more likely answer the question than not (the model's decision boundary) and come close to the
# summary: at least the share of the summary's probability at which the points of the judged sources keep
# POINT_PRECISION_TARGET (a point is at least as likely right as wrong). An absolute cut at that precision
# (0.83-0.89 with the models fitted so far) left most default-corpus answers without points: a share adapts
# to how sure the scorer is of the question as a whole. service/select.py applies the share to sentences of
# the summary's own document only. (On all of PubMedQA, with the shipped trees and the share applied to every
# document: share 0.79 / 0.83 / 0.86 gave point precision 0.36 / 0.41 / 0.45, and COVID-QA exact-in-answer
# 0.50 / - / 0.47; with the share on the summary's document only, 0.42 at 0.86.)
POINT_DECISION_BOUNDARY = 0.5
POINT_PRECISION_TARGET = 0.5
MIN_JUDGED = 20
# The benchmark's own test for "lies inside the gold answer" (../shared/tools/answer_bench.py: 70% of tokens).
INSIDE_SHARE = 0.7
# Training candidates come from the first 5 documents of each question's hits, although answers quote from 8
# (service.answer_types.SOURCE_DOCUMENTS): refitted on 8, the trees put 0.757 of PubMedQA summaries inside the
# gold conclusion (0.772 with 5) and 0.333 of COVID-QA exact answers in the summary (0.346), with the same
# features (served through answer() with each scorer file in place; a one-off comparison, 2026-11-22); the
# extra documents add mostly negatives of other articles, which the 5-document rows already teach.
TOP_DOCUMENTS = 5
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class Question:
    """One labelled question: its text, whether it is held out, and how to label a sentence."""

    qid: str
    text: str
    heldout: bool
    label: object  # callable(sentence_text, doc_id) -> list of (y, weight), empty when unlabelled


@dataclass
class Rows:
    """Feature rows of one source: X, y, weight, question number, held-out flag."""

    X: list = field(default_factory=list)
    y: list = field(default_factory=list)
    w: list = field(default_factory=list)
    q: list = field(default_factory=list)
    heldout: list = field(default_factory=list)
    questions: int = 0


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, as the answer benchmark counts them."""
    return _TOKEN.findall(text.lower())


def inside(sentence: str, gold: str) -> bool:
    """The sentence lies inside the gold text (INSIDE_SHARE of its tokens occur there)."""
    t = tokens(sentence)
    g = set(tokens(gold))
    return bool(t) and sum(w in g for w in t) >= INSIDE_SHARE * len(t)


def hashed_heldout(qid: str) -> bool:
    """A stable HELDOUT_SHARE of question ids, by hash."""
    h = int(hashlib.blake2b(qid.encode(), digest_size=4).hexdigest(), 16)
    return h / 2 ** 32 < HELDOUT_SHARE


def answers_questions(data: Path) -> list[Question]:
    """PubMedQA / COVID-QA style: queries.jsonl + answers.jsonl ("ideal", "exact")."""
    queries = {json.loads(line)["_id"]: json.loads(line) for line in open(data / "queries.jsonl")}
    out = []
    for line in open(data / "answers.jsonl"):
        g = json.loads(line)
        q = queries.get(g["query_id"])
        if q is None:
            continue
        split = g.get("split") or (q.get("metadata") or {}).get("split")
        heldout = split == "test" if split else hashed_heldout(g["query_id"])
        exacts = [e for e in ([g["exact"]] if isinstance(g.get("exact"), str) else g.get("exact") or [])
                  if isinstance(e, str) and e.strip().lower() not in ("yes", "no", "maybe")]
        out.append(Question(g["query_id"], q["text"], heldout, gold_labeler(g.get("ideal", ""), exacts)))
    return out


def gold_labeler(ideal: str, exacts: list[str]):
    """Positive: a sentence holding an exact answer span (or inside a long one); else inside the ideal answer."""
    lowered = [e.lower() for e in exacts]

    def label(sentence: str, doc_id: str):
        s = sentence.lower()
        if lowered:
            hit = any(e in s or (len(tokens(e)) >= len(tokens(s)) and inside(s, e)) for e in lowered)
            return [(int(hit), 1.0)]
        return [(int(inside(sentence, ideal)), 1.0)]

    return label


def beir_questions(data: Path, limit: int) -> list[Question]:
    """MedQuAD dev style: a sentence of a judged passage is positive, any other negative."""
    from eval.beir import load_beir

    ds = load_beir(data)
    rel = ds.relevance_map()
    out = []
    for qid, text in list(ds.queries.items())[:limit]:
        relevant = {d for d, r in rel.get(qid, {}).items() if r > 0}
        out.append(Question(qid, text, hashed_heldout(qid), lambda s, d, rel=relevant: [(int(d in rel), 1.0)]))
    return out


def label_questions(path: Path) -> list[Question]:
    """corpus_labels.jsonl: graded sentences per question; grade 2 positive, 0 negative, 1 half-and-half."""
    from service.text import collapse

    by_q: dict[str, dict] = {}
    for line in open(path):
        r = json.loads(line)
        q = by_q.setdefault(r["qid"], {"text": r["question"], "heldout": r.get("split") == "heldout", "grades": {}})
        q["grades"][collapse(r["sentence"]).lower()] = int(r["grade"])
    out = []
    for qid, q in by_q.items():
        def label(sentence: str, doc_id: str, grades=q["grades"]):
            g = grades.get(sentence.lower())
            if g is None:
                return []
            return [(1, 1.0)] if g == 2 else [(0, 1.0)] if g == 0 else [(1, 0.5), (0, 0.5)]
        out.append(Question(qid, q["text"], q["heldout"], label))
    return out


def load_source(data: Path, limit: int) -> list[Question]:
    """The questions of one source, by the files it has."""
    if data.suffix == ".jsonl":
        return label_questions(data)
    if (data / "answers.jsonl").exists():
        return answers_questions(data)
    return beir_questions(data, limit)


def extract(questions: list[Question], index, limit: int) -> Rows:
    """Feature rows of the labelled candidates of each question (through retrieve + build_candidates)."""
    rows = Rows()
    train = [q for q in questions if not q.heldout][:limit]
    held = [q for q in questions if q.heldout][:limit]
    for n, q in enumerate(train + held):
        retrieval = retrieve(q.text, index, k=CANDIDATE_CHUNKS)
        cands = build_candidates(retrieval, index, TOP_DOCUMENTS)
        labelled = False
        for item, x in zip(cands.items, cands.features):
            doc = retrieval.hits[item.hit].document.doc_id
            for y, w in q.label(item.text, doc):
                rows.X.append(x)
                rows.y.append(y)
                rows.w.append(w)
                rows.q.append(n)
                rows.heldout.append(q.heldout)
                labelled = True
        rows.questions += labelled
    return rows


# Boosting settings: shallow trees (interactions of up to TREE_DEPTH features) and enough of them, with a
# leaf floor and L2 penalty so no leaf rests on a handful of candidates. Chosen on the held-out parts:
# 100-300 trees of depth 3-6 all gave PubMedQA top-1 0.87-0.88 and COVID-QA 0.49-0.51 (logistic 0.68 / 0.50).
TREES, TREE_DEPTH, LEARNING_RATE, MIN_LEAF, L2 = 150, 4, 0.08, 40, 1.0
SEED = 0


def balanced_train(sources: dict[str, Rows]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train rows of every source, each source weighing 1 in total, half of it on its positives."""
    X, y, w = [], [], []
    for rows in sources.values():
        mask = ~np.asarray(rows.heldout, dtype=bool)
        if not mask.any():
            continue
        weights, labels = np.asarray(rows.w, dtype=float)[mask], np.asarray(rows.y)[mask]
        # within a source, positives and negatives weigh half each: answer sentences are 1% of COVID-QA's
        # candidates and 4% of PubMedQA's, and unbalanced the rarer source's positives count for little
        # (held-out top-1 precision on COVID-QA 0.37 unbalanced, 0.45 balanced; PubMedQA 0.73 vs 0.68)
        for value in (0, 1):
            if (labels == value).any():
                weights[labels == value] *= 0.5 / weights[labels == value].sum()
        X.append(np.asarray(rows.X, dtype=np.float64)[mask])
        y.append(labels)
        w.append(weights)
    X, y, w = np.vstack(X), np.concatenate(y), np.concatenate(w)
    return X, y, w * len(w)


def fit(sources: dict[str, Rows]):
    """Gradient-boosted trees on the balanced train rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, w = balanced_train(sources)
    model = HistGradientBoostingClassifier(max_iter=TREES, max_depth=TREE_DEPTH, learning_rate=LEARNING_RATE,
                                           min_samples_leaf=MIN_LEAF, l2_regularization=L2, early_stopping=False,
                                           random_state=SEED)
    return model.fit(X, y, sample_weight=w)


def fit_logistic(sources: dict[str, Rows]):
    """The logistic regression the trees replaced, fitted on the same rows for comparison: a pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, w = balanced_train(sources)
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(
        X, y, logisticregression__sample_weight=w)


def export_trees(model) -> dict:
    """The fitted trees as plain lists (service/scoring.py reads them): per tree and node the feature, the
    threshold (left when <=), the children (-1 at leaves) and the leaf value on the log-odds scale."""
    trees, depth = [], 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({"feature": [int(f) for f in nodes["feature_idx"]],
                      "threshold": [float(t) for t in nodes["num_threshold"]],
                      "left": [-1 if lf else int(c) for lf, c in zip(leaf, nodes["left"])],
                      "right": [-1 if lf else int(c) for lf, c in zip(leaf, nodes["right"])],
                      "value": [round(float(v), 8) if lf else 0.0 for lf, v in zip(leaf, nodes["value"])]})
        depth = max(depth, int(nodes["depth"].max()))
    return {"kind": "trees", "baseline": float(np.ravel(model._baseline_prediction)[0]), "depth": depth,
            "trees": trees}


def evaluate(rows: Rows, prob: np.ndarray, part: bool) -> dict:
    """AUC, and top-1 precision (the best-scored candidate is positive) over questions with a positive."""
    from sklearn.metrics import roc_auc_score

    mask = np.asarray(rows.heldout, dtype=bool) == part
    y, q, p = np.asarray(rows.y)[mask], np.asarray(rows.q)[mask], prob[mask]
    cos = np.asarray(rows.X)[mask][:, FEATURES.index("cosine")]
    out = {"rows": int(mask.sum()), "positives": int(y.sum())}
    if len(set(y.tolist())) == 2:
        out["auc"] = round(float(roc_auc_score(y, p)), 4)
        out["auc_cosine_only"] = round(float(roc_auc_score(y, cos)), 4)
    top, top_cos, n = 0, 0, 0
    for qn in np.unique(q):
        sel = q == qn
        if y[sel].max() < 1:
            continue
        n += 1
        top += int(y[sel][np.argmax(p[sel])] == 1)
        top_cos += int(y[sel][np.argmax(cos[sel])] == 1)
    out["questions"] = n
    out["top1_precision"] = round(top / n, 4) if n else None
    out["top1_precision_cosine_only"] = round(top_cos / n, 4) if n else None
    return out


def point_share(sources: dict[str, Rows], probs: dict[str, np.ndarray]) -> float:
    """The lowest share of the summary's probability a point must reach (beside the decision boundary) for
    each judged source's train candidates other than each question's top one to keep POINT_PRECISION_TARGET.

    Only sources whose questions have more than one answer sentence can judge points (COVID-QA marks one span
    per question, so any second sentence counts as wrong there). Scanning down from the top, a source is
    judged at a share once MIN_JUDGED candidates pass it; the scan stops where a judged source falls below
    the target.
    """
    grid = np.round(np.arange(0.99, POINT_DECISION_BOUNDARY - 0.001, -0.01), 2)
    parts = []
    for name, rows in sources.items():
        mask = ~np.asarray(rows.heldout, dtype=bool)
        y, q, p = np.asarray(rows.y)[mask], np.asarray(rows.q)[mask], probs[name][mask]
        per_question = [y[q == qn].sum() for qn in np.unique(q)]
        if not per_question or np.median(per_question) <= 1:
            continue
        top = np.zeros(len(p))
        points = np.ones(len(p), dtype=bool)
        for qn in np.unique(q):  # the summary is each question's top candidate, not a point
            sel = np.flatnonzero(q == qn)
            points[sel[np.argmax(p[sel])]] = False
            top[sel] = p[sel].max()
        parts.append((y[points], p[points], top[points]))
    best = float(grid[0])
    for share in grid:
        judged = []
        for y, p, top in parts:
            passed = p >= np.maximum(POINT_DECISION_BOUNDARY, share * top)
            if passed.sum() >= MIN_JUDGED:
                judged.append(float(y[passed].mean()))
        if not judged:
            continue
        if min(judged) < POINT_PRECISION_TARGET:
            break
        best = float(share)
    return best


def scorer_json(out: dict) -> str:
    """The scorer file: readable fields indented, each tree on one line (a reviewable diff, ~100 KB)."""
    head = json.dumps({k: v for k, v in out.items() if k != "trees"}, indent=1)
    trees = ",\n".join("  " + json.dumps(t, separators=(",", ":")) for t in out.get("trees", []))
    return head[:-2] + ',\n "trees": [\n' + trees + "\n ]\n}\n"


def main(argv=None) -> int:
    """Extract, fit, evaluate, write the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", action="append", required=True, help="NAME=DATA@INDEX (repeatable)")
    p.add_argument("--limit", type=int, default=400, help="questions per source and part (train, held-out)")
    p.add_argument("--output", type=Path, default=Path("service/models/sentence_scorer.json"))
    p.add_argument("--cache", type=Path, help="save/reuse extracted rows here (npz per source)")
    args = p.parse_args(argv)
    from index.embedder import load_embedder
    from index.store import Index

    embedder = load_embedder()
    sources: dict[str, Rows] = {}
    for spec in args.source:
        name, _, rest = spec.partition("=")
        data, _, index_dir = rest.partition("@")
        cached = args.cache / f"{name}.npz" if args.cache else None
        if cached and cached.exists():
            z = np.load(cached)
            rows = Rows(list(z["X"]), list(z["y"]), list(z["w"]), list(z["q"]), list(z["heldout"]), int(z["questions"]))
        else:
            t = time.perf_counter()
            index = Index.open(index_dir, embedder=embedder)
            rows = extract(load_source(Path(data), args.limit), index, args.limit)
            print(f"{name}: {rows.questions} questions, {len(rows.y)} rows in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, X=np.asarray(rows.X), y=np.asarray(rows.y), w=np.asarray(rows.w),
                         q=np.asarray(rows.q), heldout=np.asarray(rows.heldout), questions=rows.questions)
        sources[name] = rows
    model, logistic = fit(sources), fit_logistic(sources)
    probs = {n: model.predict_proba(np.asarray(r.X, dtype=np.float64))[:, 1] for n, r in sources.items()}
    report = {}
    for n, r in sources.items():
        lr = logistic.predict_proba(np.asarray(r.X, dtype=np.float64))[:, 1]
        report[n] = {"train": evaluate(r, probs[n], False), "heldout": evaluate(r, probs[n], True),
                     "heldout_logistic": evaluate(r, lr, True)}
    trees = export_trees(model)
    check = scorer_from_dict({**trees, "features": list(FEATURES), "thresholds": {}})
    for n, r in sources.items():  # the served arithmetic must reproduce scikit-learn's
        np.testing.assert_allclose(check.probabilities(np.asarray(r.X)), probs[n], atol=1e-5)
    out = {
        "model": f"gradient-boosted trees (scikit-learn HistGradientBoostingClassifier: {TREES} trees, depth "
                 f"{TREE_DEPTH}, learning rate {LEARNING_RATE}, min leaf {MIN_LEAF}, L2 {L2}), each source "
                 "weighing the same",
        "features": list(FEATURES),
        **trees,
        "thresholds": {"point": POINT_DECISION_BOUNDARY, "point_share": point_share(sources, probs)},
        "threshold_rule": f"a point needs probability >= point ({POINT_DECISION_BOUNDARY}: more likely an answer "
                          "than not) and >= point_share x the summary's: point_share is the lowest share down to "
                          "which the train candidates other than each question's top one keep precision >= "
                          f"{POINT_PRECISION_TARGET} in each source with more than one answer sentence per question",
        "fitted_on": {n: {"questions": r.questions, "rows": len(r.y), "positives": int(np.sum(r.y)),
                          "train_rows": int(np.sum(~np.asarray(r.heldout, bool))),
                          "heldout_rows": int(np.sum(np.asarray(r.heldout, bool)))} for n, r in sources.items()},
        "scores": report,
        "command": "python -m eval.fit_scorer " + " ".join(f"--source {s}" for s in args.source)
                   + f" --limit {args.limit} --output {args.output}",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(scorer_json(out))
    print(json.dumps({"thresholds": out["thresholds"], "scores": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
