"""eval/compare.py and `medcite eval --compare/--baseline/--fusion`: paired tests, Holm, biggest changes."""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from eval.compare import RESAMPLES, SEED, CompareError, compare, format_comparison, holm, load_output
from eval.runner import run_eval
from index.embedder import FakeEmbedder

TINY = Path(__file__).parent / "data" / "tiny-answers"


def mean_difference(x, y, axis=-1):
    return np.mean(x - y, axis=axis)


def library_p(b: list[float], a: list[float]) -> float:
    """scipy's own paired randomization test, called as the documentation shows."""
    return stats.permutation_test((np.array(b), np.array(a)), mean_difference, permutation_type="samples",
                                  vectorized=True, n_resamples=RESAMPLES, alternative="two-sided",
                                  random_state=np.random.default_rng(SEED)).pvalue


def output(scores: dict[str, float], answers: dict[str, float] | None = None) -> dict:
    """A minimal eval output with per-query hybrid RR@10 (and rouge2_r) scores."""
    qids = list(scores)
    result = {"retrievers": {"hybrid": {"RR@10": sum(scores.values()) / len(scores)}},
              "per_query": {"questions": {q: f"question {q}?" for q in qids},
                            "retrievers": {"hybrid": {q: {"RR@10": s} for q, s in scores.items()}}}}
    if answers is not None:
        result["answer_quality"] = {"per_query": {q: {"rouge2_r": v, "point_prec": None} for q, v in answers.items()}}
    return result


def test_holm_by_hand():
    # sorted: 0.01*4 = 0.04; 0.03*3 = 0.09; 0.04*2 = 0.08 -> kept at 0.09 (monotone); 0.5*1 = 0.5
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


def test_p_values_equal_scipy_s_own_call_on_the_same_per_query_scores():
    rng = random.Random(3)
    qids = [f"q{i}" for i in range(60)]  # 2^60 sign flips: the Monte Carlo branch of permutation_test
    a = {q: rng.random() for q in qids}
    b = {q: min(1.0, v + rng.uniform(-0.1, 0.2)) for q, v in a.items()}
    ra = {q: rng.random() for q in qids[:50]}
    rb = {q: v + 0.01 for q, v in ra.items()}
    out = compare(output(a, ra), output(b, rb))
    rows = {m["measure"]: m for m in out["measures"]}
    assert set(rows) == {"hybrid RR@10", "rouge2_r"}  # point_prec is None everywhere: nothing to compare
    assert rows["hybrid RR@10"]["p"] == library_p([b[q] for q in qids], [a[q] for q in qids])
    assert rows["rouge2_r"]["p"] == library_p([rb[q] for q in ra], [ra[q] for q in ra])
    assert rows["rouge2_r"]["n"] == 50 and rows["rouge2_r"]["delta"] == pytest.approx(0.01)
    assert [rows[m]["p_holm"] for m in rows] == holm([rows[m]["p"] for m in rows])
    assert rows["rouge2_r"]["p"] < 0.001 and rows["rouge2_r"]["significant"]


def test_biggest_changes_name_their_questions():
    a = {f"q{i}": 0.5 for i in range(8)}
    b = {**a, "q1": 1.0, "q2": 0.6, "q3": 0.0, "q4": 0.25}
    out = compare(output(a), output(b), "a.json", "b.json")
    change = out["changes"]["retrieval: hybrid RR@10"]
    assert [(c["query_id"], c["delta"]) for c in change["improved"]] == [("q1", 0.5), ("q2", pytest.approx(0.1))]
    assert [(c["query_id"], c["delta"]) for c in change["worsened"]] == [("q3", -0.5), ("q4", -0.25)]
    assert change["improved"][0]["question"] == "question q1?"
    assert out["deltas"]["hybrid RR@10"]["q1"] == 0.5
    text = format_comparison(out)
    assert "B = b.json against A = a.json" in text
    assert "most improved on retrieval: hybrid RR@10:\n  +0.5000 (0.5000 -> 1.0000)  q1: question q1?" in text


def test_identical_runs_have_p_one_and_no_changes():
    a = {f"q{i}": i / 10 for i in range(5)}
    out = compare(output(a), output(dict(a)))
    assert [(m["delta"], m["p"], m["p_holm"]) for m in out["measures"]] == [(0.0, 1.0, 1.0)]
    assert out["changes"]["retrieval: hybrid RR@10"] == {"improved": [], "worsened": []}


def test_terminal_output_shows_control_characters_as_question_marks():
    a, b = output({"q1": 0.0, "q2": 0.5}), output({"q1": 1.0, "q2": 0.5})
    b["per_query"]["questions"]["q1"] = "evil\x1b[2J question"
    assert "evil?[2J question" in format_comparison(compare(a, b))


def test_outputs_without_per_query_scores_are_refused(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"retrievers": {"bm25": {"RR@10": 0.5}}}))
    with pytest.raises(CompareError, match="old.json: has no per-query scores"):
        load_output(old)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CompareError, match="x.json: not a JSON file"):
        load_output(tmp_path / "x.json")
    with pytest.raises(CompareError, match="nothing in common|no measure scored on common queries"):
        compare(output({"q1": 1.0}), output({"q2": 1.0}))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The tiny set evaluated twice on one index: default fusion, then convex fusion with alpha=1 (dense only)."""
    out = tmp_path_factory.mktemp("cmp")
    kw = dict(embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    a = run_eval(TINY, out / "index", "dense,hybrid", "nDCG@10,RR@10", out / "a.json", **kw)
    stdout = io.StringIO()
    b = run_eval(TINY, out / "index", "dense,hybrid", "nDCG@10,RR@10", out / "b.json", fusion="method=convex,alpha=1.0",
                 baseline=out / "a.json", embedder=FakeEmbedder(), stdout=stdout, progress=False)
    return out, a, b, stdout.getvalue()


def test_fusion_override_changes_hybrid_only_for_that_run(two_runs):
    out, a, b, _ = two_runs
    assert b["index"]["fusion"]["alpha"] == 1.0 and b["options"]["fusion"] == {"method": "convex", "alpha": "1.0"}
    # alpha = 1 weighs the dense cosine only: hybrid ranks exactly as dense does
    assert b["per_query"]["retrievers"]["hybrid"] == b["per_query"]["retrievers"]["dense"]
    assert a["retrievers"]["hybrid"] != a["retrievers"]["dense"]  # the default fusion differs from dense
    assert "fusion" not in a["index"]
    again = run_eval(TINY, out / "index", "hybrid", "nDCG@10", answers=False, embedder=FakeEmbedder(),
                     stdout=io.StringIO(), progress=False)
    assert again["retrievers"]["hybrid"]["nDCG@10"] == a["retrievers"]["hybrid"]["nDCG@10"]  # the index kept its settings


def test_bad_fusion_overrides_are_refused(two_runs):
    out = two_runs[0]
    with pytest.raises(ValueError, match="unknown fusion setting"):
        run_eval(TINY, out / "index", "hybrid", "RR@10", fusion="alpah=0.5", answers=False, embedder=FakeEmbedder(),
                 stdout=io.StringIO(), progress=False)
    with pytest.raises(ValueError, match="alpha=high: expected float"):
        run_eval(TINY, out / "index", "hybrid", "RR@10", fusion="alpha=high", answers=False, embedder=FakeEmbedder(),
                 stdout=io.StringIO(), progress=False)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        run_eval(TINY, out / "index", "hybrid", "RR@10", fusion="alpha", answers=False, embedder=FakeEmbedder(),
                 stdout=io.StringIO(), progress=False)


def test_baseline_run_compares_every_measure_with_the_library_p_value(two_runs):
    _, a, b, printed = two_runs
    rows = {m["measure"]: m for m in b["comparison"]["measures"]}
    assert {"dense nDCG@10", "dense RR@10", "hybrid nDCG@10", "hybrid RR@10", "rouge2_r", "lead_gold"} <= set(rows)
    qids = list(b["per_query"]["retrievers"]["hybrid"])
    ha = [a["per_query"]["retrievers"]["hybrid"][q]["nDCG@10"] for q in qids]
    hb = [b["per_query"]["retrievers"]["hybrid"][q]["nDCG@10"] for q in qids]
    assert rows["hybrid nDCG@10"]["p"] == library_p(hb, ha)
    assert rows["hybrid nDCG@10"]["delta"] == pytest.approx(b["retrievers"]["hybrid"]["nDCG@10"] - a["retrievers"]["hybrid"]["nDCG@10"])
    assert (rows["dense nDCG@10"]["delta"], rows["dense nDCG@10"]["p"]) == (0.0, 1.0)
    assert "p (Holm)" in printed and "most worsened on retrieval: hybrid nDCG@10:" in printed


def test_compare_command_prints_deltas_and_writes_json(two_runs, capsys, tmp_path):
    from service.cli import main

    out = two_runs[0]
    assert main(["eval", "--compare", str(out / "a.json"), str(out / "b.json"), "--output", str(tmp_path / "c.json")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("B = b.json against A = a.json: paired randomization test")
    assert printed.splitlines()[1].split() == ["measure", "n", "A", "B", "delta", "p", "p", "(Holm)"]
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["measures"] == two_runs[2]["comparison"]["measures"]  # the same as --baseline computed
    assert [m["measure"] for m in saved["measures"]][:4] == ["dense nDCG@10", "dense RR@10", "hybrid nDCG@10", "hybrid RR@10"]
    assert main(["eval", "--compare", str(out / "a.json"), str(out / "b.json"), "--report", str(tmp_path / "c.html")]) == 0
    page = (tmp_path / "c.html").read_text()
    assert 'id="comparison-table"' in page and "Comparison: b.json against a.json" in page
    assert page.count("<polyline") == 4  # B's two retrievers, and A's dashed
    capsys.readouterr()
    (tmp_path / "old.json").write_text(json.dumps({"retrievers": {}}))
    assert main(["eval", "--compare", str(tmp_path / "old.json"), str(out / "b.json")]) == 1
    assert capsys.readouterr().err == "medcite: old.json: has no per-query scores (written by an older medcite eval: rerun it)\n"


@pytest.mark.parametrize("argv", [["eval", "--compare", "a.json"], ["eval", "--dataset", "d", "--compare", "a", "b"]])
def test_compare_usage_errors_exit_2(argv, capsys):
    from service.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
