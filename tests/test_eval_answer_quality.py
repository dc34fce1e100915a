"""eval/answer_quality.py: answer_bench.py's definitions, exactly; and medcite eval against answer_bench on a server."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api_support import wait_http_ready
from eval.answer_quality import (
    GoldAnswer, aggregate, contract_problems, covered, exact_strings, inside, lead, load_gold, rouge2, score_answer,
    score_lead, tokens,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny-answers"
# ../shared next to the repo; MEDCITE_SHARED points elsewhere (a git worktree one level deeper, say)
BENCH = Path(os.environ.get("MEDCITE_SHARED") or ROOT.parent / "shared") / "tools" / "answer_bench.py"
PORT = 8161  # this project's evaluation test port (127.0.0.1 only)
needs_bench = pytest.mark.skipif(not BENCH.is_file(), reason="../shared/tools/answer_bench.py not present")


def bench_module():
    """answer_bench.py imported as a module (it is a standalone script in ../shared)."""
    spec = importlib.util.spec_from_file_location("answer_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gold(snippets=("Aspirin reduces fever and mild pain.",), exact=("aspirin",), ideal="Aspirin reduces fever."):
    return GoldAnswer("q1", "Does aspirin reduce fever?", ideal, tuple(snippets), tuple(exact))


def v2(summary, summary_citations, points, references, abstained=False, disclaimer="Not advice."):
    return {"abstained": abstained, "summary": summary, "summary_citations": summary_citations, "points": points,
            "references": references, "disclaimer": disclaimer}


def ref(n, *texts):
    return {"number": n, "doc_id": f"d{n}", "title": f"Doc {n}", "passages": [{"chunk_id": f"d{n}#0", "text": t} for t in texts]}


def test_tokens_inside_and_covered():
    assert tokens("Vitamin-C, 500 mg/day (É)!") == ["vitamin", "c", "500", "mg", "day"]
    snippets = ["Aspirin reduces fever and mild pain."]
    # 3 of 4 tokens (75%) lie in the snippet: inside at 70%, not at 80%
    assert inside("aspirin reduces fever quickly", snippets) is True
    assert inside("aspirin reduces fever quickly", snippets, 0.8) is False
    assert inside("", snippets) is False
    # the snippet has 6 tokens; 3 occur in the answer = exactly 50%
    assert covered(snippets[0], {"aspirin", "reduces", "fever"}) is True
    assert covered(snippets[0], {"aspirin", "reduces"}) is False


def test_rouge2_by_hand():
    # ideal bigrams: (a b) (b c) (c d); answer bigrams: (a b) (b c) (c x) (x y): overlap 2
    assert rouge2("a b c d", "A b, c x y") == (2 / 3, 2 / 4)
    assert rouge2("one", "one two") == (0.0, 0.0)


def test_exact_strings_flatten_nested_lists_and_drop_decision_labels():
    assert exact_strings([["levothyroxine"], "maybe", " pale skin "]) == ("levothyroxine", "pale skin")
    assert exact_strings("Yes") == ()
    assert exact_strings(None) == ()


def test_lead_is_the_first_two_sentences():
    assert lead("Gout is arthritis. It hurts! Allopurinol helps? More.") == "Gout is arthritis. It hurts!"
    assert lead("") == ""


def test_score_answer_and_lead():
    g = gold(snippets=("Aspirin reduces fever and mild pain.", "Paracetamol also lowers a fever."), exact=("mild pain",))
    ans = v2("Aspirin reduces fever.", [1], [{"text": "Aspirin reduces mild pain.", "citations": [1]},
                                            {"text": "Ibuprofen is another option.", "citations": [1]}],
             [ref(1, "Aspirin reduces fever. Aspirin reduces mild pain. Ibuprofen is another option.")])
    s = score_answer(g, ans)
    assert s["summary_gold"] is True and s["point_prec"] == 0.5 and s["points"] == 2
    # the whole answer covers snippet 1 (5 of 6 tokens: not "and") but not snippet 2 (1 of 5: "fever")
    assert s["snip_recall"] == 0.5
    assert (s["exact_sum"], s["exact_ans"]) == (False, True)
    assert (s["rouge2_r"], s["rouge2_p"]) == rouge2(g.ideal, "Aspirin reduces fever. Aspirin reduces mild pain. "
                                                             "Ibuprofen is another option.")
    assert score_lead(g, "Paracetamol also lowers a fever.")["lead_gold"] is True  # inside snippet 2
    assert score_lead(g, "Ibuprofen eases a headache.") == {"lead_gold": False, "lead_rouge2_r": 0.0,
                                                             "lead_rouge2_p": 0.0, "lead_exact": False}
    assert score_lead(g, "Aspirin eases mild pain.")["lead_exact"] is True


def test_abstention_scores_zero_and_has_no_point_precision():
    abst = v2("The sources do not answer this question.", [], [], [], abstained=True)
    s = score_answer(gold(), abst)
    assert s == {"summary_gold": 0.0, "point_prec": None, "snip_recall": 0.0, "rouge2_r": 0.0, "rouge2_p": 0.0,
                 "exact_sum": False, "exact_ans": False, "abstained": True, "points": None}
    assert score_answer(gold(exact=()), abst)["exact_sum"] is None


def test_aggregate_skips_missing_figures_and_counts_violations():
    per_query = {"a": {"summary_gold": True, "point_prec": None, "exact_sum": None, "abstained": False, "violations": ["x"]},
                 "b": {"summary_gold": 0.0, "point_prec": 0.5, "exact_sum": None, "abstained": True, "violations": []}}
    agg = aggregate(per_query)
    assert (agg["summary_gold"], agg["point_prec"], agg["exact_sum"], agg["abstained"]) == (0.5, 0.5, None, 0.5)
    assert (agg["n"], agg["contract_violations"]) == (2, 1)


def test_contract_problems_v2_and_v1():
    good = v2("Aspirin reduces fever.", [1], [{"text": "It  is cheap.", "citations": [2]}],
              [ref(1, "Aspirin reduces fever."), ref(2, "It is cheap.")])
    assert contract_problems(good) == []
    bad = v2("Aspirin cures colds.", [2], [{"text": "It is cheap.", "citations": []}], [ref(1, "x"), ref(2, "y")],
             disclaimer="")
    assert contract_problems(bad) == ["no disclaimer", "not verbatim: Aspirin cures colds.", "uncited: It is cheap.",
                                      "references not in order of first citation, or uncited"]
    v1 = {"abstained": False, "summary": "Aspirin reduces fever. [1]", "points": [], "references": [ref(1, "Aspirin reduces fever.")],
          "disclaimer": "d"}
    assert contract_problems(v1) == []
    assert score_answer(gold(), v1)["summary_gold"] is True  # the marker is not part of the summary text


def test_load_gold_keeps_answer_bench_s_questions(tmp_path):
    queries = {"q-shingles": "What causes shingles?", "q-nogold": "What causes gout?", "q-migraine": "How long?"}
    rows = load_gold(TINY / "answers.jsonl", queries)
    # q-nogold has no snippets, q-missing is not a query, the others are not in `queries`
    assert [g.query_id for g in rows] == ["q-shingles", "q-migraine"]
    assert rows[0].exact == ("varicella-zoster virus",)
    (tmp_path / "answers.jsonl").write_text('{"query_id": "q1", "snippets": "not a list"}\n')
    from eval.beir import DatasetError

    with pytest.raises(DatasetError, match=r"answers.jsonl:1: 'snippets' must be a list of strings"):
        load_gold(tmp_path / "answers.jsonl", {"q1": "x"})


words = st.lists(st.sampled_from(["the", "fever", "Fever", "aspirin", "reduces", "pain", "a", "É", "x-ray", "10mg",
                                  "ibuprofen", ",", ".", "İ", "co-trimoxazole"]), max_size=30).map(" ".join)


@needs_bench
@settings(max_examples=300, deadline=None)
@given(ideal=words, text=words)
def test_rouge_score_configured_equals_answer_bench_rouge2(ideal, text):
    # rouge-score without stemming tokenizes as answer_bench does and clips bigram counts the same way
    assert rouge2(ideal, text) == bench_module().rouge2(ideal, text)


@needs_bench
def test_rouge_score_stemming_would_differ_from_answer_bench():
    ideal, text = "treatments reduced fevers", "treatment reduces fever"
    from rouge_score import rouge_scorer

    stemmed = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True).score(ideal, text)["rouge2"]
    assert (stemmed.recall, stemmed.precision) == (1.0, 1.0)
    assert rouge2(ideal, text) == bench_module().rouge2(ideal, text) == (0.0, 0.0)


@needs_bench
@settings(max_examples=200, deadline=None)
@given(text=words, snippets=st.lists(words, min_size=1, max_size=3))
def test_inside_and_covered_equal_answer_bench(text, snippets):
    bench = bench_module()
    assert inside(text, snippets) == bench.inside(text, snippets, 0.7)
    assert covered(snippets[0], set(tokens(text))) == bench.covered(snippets[0], set(bench.toks(text)))


@needs_bench
def test_medcite_eval_equals_answer_bench_against_a_server_on_the_same_index(tmp_path):
    from eval.runner import run_eval
    from index.embedder import FakeEmbedder

    index_dir = tmp_path / "index"
    result = run_eval(TINY, index_dir, "hybrid", "RR@10", embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    env = {**os.environ, "MEDCITE_MODEL": "fake", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("MEDCITE_API_KEY", None)
    url = f"http://127.0.0.1:{PORT}"
    server = subprocess.Popen([sys.executable, "-m", "service", "serve", "--index", str(index_dir), "--port", str(PORT)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http_ready(url, 60, server, 0.2)
        bench = subprocess.run([sys.executable, str(BENCH), url, str(TINY), "--out", str(tmp_path / "bench.jsonl")],
                               capture_output=True, text=True, timeout=300, check=True)
    finally:
        server.terminate()
        server.wait(20)
    expected = json.loads(bench.stdout.strip().splitlines()[-1])
    ours = result["answer_quality"]
    assert expected["n"] == ours["n"] == 7
    for key, value in expected.items():
        if key == "p50_ms":
            continue
        mine = ours[key]
        if isinstance(value, float) and value != value:  # answer_bench's NaN: nothing to average
            assert mine is None, key
        else:
            assert (round(mine, 4) if isinstance(mine, float) else mine) == value, key
    # and the very same answers, question by question
    per_question = [json.loads(line) for line in (tmp_path / "bench.jsonl").read_text().splitlines()]
    mine = {result["per_query"]["questions"][q]: r for q, r in ours["per_query"].items()}
    assert [p["q"] for p in per_question] == list(mine)
    for p in per_question:
        r = mine[p["q"]]
        assert r["abstained"] is p.get("abstained", False)
        if not r["abstained"]:
            assert (r["answer"]["summary"], [x["text"] for x in r["answer"]["points"]]) == (p["summary"], p["points"])
            assert r["summary_gold"] is p["summary_gold"]


def test_a_bad_answers_file_fails_before_anything_is_ranked(tmp_path):
    import shutil

    from eval.beir import DatasetError
    from eval.runner import run_eval

    shutil.copytree(TINY, tmp_path / "ds")
    with (tmp_path / "ds" / "answers.jsonl").open("a") as fh:
        fh.write("{broken\n")

    def never(text, k):
        raise AssertionError("ranked before the gold answers were read")

    with pytest.raises(DatasetError, match=r"answers.jsonl:10: invalid JSON"):
        run_eval(tmp_path / "ds", rankers={"bm25": never}, retrievers="bm25", answerer=lambda q: {}, stdout=io.StringIO(),
                 progress=False)


def test_progress_bars_over_questions_go_to_stderr(capsys):
    from eval.runner import run_eval

    abstain = {"question": "q", "abstained": True, "summary": "No.", "summary_citations": [], "points": [], "references": [],
               "disclaimer": "d"}
    result = run_eval(TINY, retrievers="bm25", measures="RR@10", rankers={"bm25": lambda text, k: []},
                      answerer=lambda q: abstain, top_hit=lambda q: "Lead one. Lead two. Three.", progress=True)
    captured = capsys.readouterr()
    for bar in ("ranking with bm25", "checking answers", "scoring answers"):
        assert bar in captured.err and bar not in captured.out
    assert "scoring answers:   0%|          | 0/7" in captured.err  # over the 7 gold-answered questions
    assert result["answer_quality"]["per_query"]["q-gout"]["lead"] == "Lead one. Lead two."
    assert set(result["time_per_query_ms"]) == {"retrieval", "answer", "lead"}
