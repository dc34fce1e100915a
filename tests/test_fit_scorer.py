"""eval.fit_scorer: how sentences are labelled, how questions are split, and the fitted model's JSON."""
from __future__ import annotations

import numpy as np
import pytest

from eval import fit_scorer as fs
from service.candidates import FEATURES


def test_a_sentence_inside_the_gold_conclusion_is_positive():
    label = fs.gold_labeler("Mitochondria play an early role in cell death. CsA slowed it.", [])
    assert label("Mitochondria play an early role in cell death.", "d") == [(1, 1.0)]
    assert label("Leaves were stained with a dye and imaged.", "d") == [(0, 1.0)]


def test_the_sentence_holding_the_exact_span_is_positive():
    label = fs.gold_labeler("", ["mother-to-child transmission"])
    assert label("Mother-to-child transmission is the main cause of infection in children.", "d") == [(1, 1.0)]
    assert label("Infection in children is common.", "d") == [(0, 1.0)]


def test_heldout_split_by_question_id_is_stable_and_near_its_share():
    ids = [str(i) for i in range(2000)]
    held = [fs.hashed_heldout(i) for i in ids]
    assert held == [fs.hashed_heldout(i) for i in ids]
    assert abs(sum(held) / len(held) - fs.HELDOUT_SHARE) < 0.03


def synthetic_rows(seed: int) -> fs.Rows:
    """20 questions of 10 candidates; the positive one has a higher cosine (column 0)."""
    rng = np.random.default_rng(seed)
    rows = fs.Rows()
    for q in range(20):
        for c in range(10):
            x = rng.normal(size=len(FEATURES)).astype(np.float32)
            x[0] += 8.0 * (c == 0)
            rows.X.append(x)
            rows.y.append(int(c == 0))
            rows.w.append(1.0)
            rows.q.append(q)
            rows.heldout.append(q >= 15)
        rows.questions += 1
    return rows


def test_fit_learns_the_signal_and_reports_held_out_scores(monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(fs, "TREES", 20)  # a few trees find one strong signal; the shipped count is slow here
    sources = {"a": synthetic_rows(0), "b": synthetic_rows(1)}
    model = fs.fit(sources)
    prob = model.predict_proba(np.asarray(sources["a"].X, dtype=np.float64))[:, 1]
    report = fs.evaluate(sources["a"], prob, part=True)
    assert report["questions"] == 5 and report["top1_precision"] == 1.0


def test_exported_trees_score_as_scikit_learn_does(monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(fs, "TREES", 20)
    from service.scoring import TreeScorer, scorer_from_dict

    sources = {"a": synthetic_rows(0), "b": synthetic_rows(1)}
    model = fs.fit(sources)
    served = scorer_from_dict({**fs.export_trees(model), "features": list(FEATURES), "thresholds": {}})
    assert isinstance(served, TreeScorer) and len(served.roots) == fs.TREES
    X = np.vstack([np.asarray(r.X) for r in sources.values()])
    np.testing.assert_allclose(served.probabilities(X), model.predict_proba(X.astype(np.float64))[:, 1], atol=1e-6)


def test_point_share_is_where_non_top_candidates_keep_the_precision_target(monkeypatch):
    monkeypatch.setattr(fs, "MIN_JUDGED", 1)
    monkeypatch.setattr(fs, "POINT_PRECISION_TARGET", 0.4)
    rows = fs.Rows(X=[np.zeros(len(FEATURES))] * 5, y=[1, 1, 0, 0, 0], w=[1.0] * 5, q=[0] * 5,
                   heldout=[False] * 5, questions=1)
    prob = np.array([0.9, 0.8, 0.6, 0.5, 0.3])
    # the top one (0.9) is the summary; a point needs >= max(0.5, share x 0.9): down to share 0.56 (cut 0.504)
    # 0.8 and 0.6 pass (1/2); at 0.55 the cut is the boundary 0.5 and 0.5 passes too (1/3 < 0.4)
    assert fs.point_share({"s": rows}, {"s": prob}) == 0.56
    # a second source with two answers per question, wrong at 0.75 (passing from share 0.78), stops the scan
    other = fs.Rows(X=[np.zeros(len(FEATURES))] * 3, y=[1, 0, 1], w=[1.0] * 3, q=[0] * 3,
                    heldout=[False] * 3, questions=1)
    assert fs.point_share({"s": rows, "o": other}, {"s": prob, "o": np.array([0.95, 0.75, 0.2])}) == 0.79
    # a source with one answer per question cannot judge points: it does not move the share
    single = fs.Rows(X=[np.zeros(len(FEATURES))] * 3, y=[1, 0, 0], w=[1.0] * 3, q=[0] * 3,
                     heldout=[False] * 3, questions=1)
    assert fs.point_share({"s": rows, "x": single}, {"s": prob, "x": np.array([0.95, 0.75, 0.7])}) == 0.56
