"""eval/: BEIR loading, ir-measures scoring, run files, JSON shape, plot and answer checks, with fake rankings."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import ir_measures
import pytest

from eval.answers import check_answer, summarise
from eval.beir import DatasetError, load_beir
from eval.metrics import DEFAULT_MEASURES, parse_measures, percentiles
from eval.runner import parse_retrievers, run_eval
from service.answer_types import Answer, Passage, Point, Reference
from service.schemas import AnswerOut

TINY = Path(__file__).parent / "data" / "tiny-beir"
DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad-dev"
CONTRACT_MEASURES = ["nDCG@10", "RR@10", "AP@10", "P@5", "R@100"]


def graded_qrels() -> dict[str, dict[str, int]]:
    """The tiny qrels read independently of eval.beir (csv module, header skipped)."""
    with (TINY / "qrels" / "test.tsv").open() as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    out: dict[str, dict[str, int]] = {}
    for qid, did, score in rows:
        out.setdefault(qid, {})[did] = int(score)
    return out


def oracle(text_to_qid: dict[str, str]):
    """A ranker that returns the judged documents by decreasing relevance: a perfect run."""
    qrels = graded_qrels()

    def rank(text: str, k: int):
        judged = sorted(qrels[text_to_qid[text]].items(), key=lambda kv: -kv[1])
        return [(did, float(10 - i)) for i, (did, _) in enumerate(judged)][:k]

    return rank


def fixed(rankings: dict[str, list[str]], text_to_qid: dict[str, str]):
    """A ranker that returns a fixed list of doc ids per query (empty when not listed)."""

    def rank(text: str, k: int):
        return [(did, 1.0 / (i + 1)) for i, did in enumerate(rankings.get(text_to_qid[text], []))][:k]

    return rank


@pytest.fixture
def tiny():
    ds = load_beir(TINY)
    return ds, {text: qid for qid, text in ds.queries.items()}


def test_load_beir_keeps_judged_queries_and_graded_relevance(tiny):
    ds, _ = tiny
    assert ds.documents == 6
    assert list(ds.queries) == ["q-aspirin", "q-insulin", "q-scurvy", "q-measles"]  # q-unjudged is left out
    assert len(ds.qrels) == 6
    assert ds.relevance_map()["q-measles"] == {"measles-vaccine": 2, "measles": 1, "asthma": 0}
    assert ds.relevant("q-measles") == {"measles-vaccine", "measles"}
    assert ds.relevant("q-measles", 2) == {"measles-vaccine"}


def test_missing_layout_names_the_file(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    with pytest.raises(DatasetError, match="qrels/test.tsv"):
        load_beir(tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        load_beir(tmp_path / "nope")


def test_measure_names_are_ir_measures_names():
    assert [str(m) for m in parse_measures(None)] == CONTRACT_MEASURES
    assert [str(m) for m in parse_measures("nDCG@10, P@5")] == ["nDCG@10", "P@5"]
    with pytest.raises(ValueError, match="unknown measure"):
        parse_measures("Bogus@3")
    assert parse_retrievers("bm25, hybrid") == ["bm25", "hybrid"]
    with pytest.raises(ValueError, match="unknown retriever"):
        parse_retrievers("bm25,tfidf")


def test_perfect_run_scores_one_and_json_has_the_contract_shape(tiny, tmp_path):
    ds, t2q = tiny
    out, png = tmp_path / "res.json", tmp_path / "res.png"
    rankers = {name: oracle(t2q) for name in ("bm25", "dense", "hybrid")}
    stdout = io.StringIO()
    result = run_eval(TINY, None, "bm25,dense,hybrid", DEFAULT_MEASURES, out, png,
                      rankers=rankers, answers=False, stdout=stdout, progress=False)
    on_disk = json.loads(out.read_text())
    assert on_disk == result
    # the contract's keys, then additions (new keys never replace the contract's)
    assert set(result) == {"dataset", "model", "index", "retrievers", "latency_ms", "runs",
                           "options", "per_query", "recall_curves", "time_per_query_ms"}
    # per-query scores average to the reported means
    for name, scores in result["per_query"]["retrievers"].items():
        assert list(scores) == list(ds.queries)
        for measure, mean in result["retrievers"][name].items():
            assert sum(s[measure] for s in scores.values()) / len(scores) == pytest.approx(mean)
    assert result["recall_curves"]["bm25"]["100"] == 1.0
    assert set(result["per_query"]["retrieval_ms"]["dense"]) == set(ds.queries)
    assert result["dataset"] == {"path": str(TINY), "documents": 6, "queries": 4, "qrels": 6}
    assert set(result["index"]) == {"chunks", "settings"}
    assert isinstance(result["model"], str)
    for name in ("bm25", "dense", "hybrid"):
        # P@5 of a perfect run is (relevant docs)/5: three queries with 1, one with 2 -> (0.2*3 + 0.4)/4
        assert result["retrievers"][name] == {
            "nDCG@10": 1.0, "RR@10": 1.0, "AP@10": 1.0, "P@5": pytest.approx(0.25), "R@100": 1.0}
        assert list(result["retrievers"][name]) == CONTRACT_MEASURES
        assert set(result["latency_ms"][name]) == {"p50", "p95", "p99"}
        assert Path(result["runs"][name]) == tmp_path / f"res.{name}.run"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = stdout.getvalue().splitlines()
    assert table[1].split() == ["retriever", *CONTRACT_MEASURES, "p50", "ms", "p95", "ms"]
    assert table[2].split()[:6] == ["bm25", "1.0000", "1.0000", "1.0000", "0.2500", "1.0000"]


def test_numbers_equal_an_independent_ir_measures_call_on_the_run_files(tiny, tmp_path):
    ds, t2q = tiny
    rankings = {
        "bm25": {"q-aspirin": ["insulin", "aspirin"], "q-insulin": ["insulin"], "q-measles": ["measles", "asthma", "measles-vaccine"]},
        "dense": {"q-aspirin": ["aspirin"], "q-scurvy": ["asthma", "insulin", "scurvy"], "q-measles": ["measles-vaccine"]},
    }
    out = tmp_path / "sub" / "e.json"
    result = run_eval(TINY, retrievers=["bm25", "dense"], measures=CONTRACT_MEASURES + ["nDCG@3", "R@2"], output=out,
                      plot=None, rankers={n: fixed(r, t2q) for n, r in rankings.items()}, answers=False,
                      stdout=io.StringIO(), progress=False)
    qrels = [ir_measures.Qrel(q, d, s) for q, docs in graded_qrels().items() for d, s in docs.items()]
    measures = [ir_measures.parse_measure(m) for m in CONTRACT_MEASURES + ["nDCG@3", "R@2"]]
    for name in ("bm25", "dense"):
        run = list(ir_measures.read_trec_run(str(tmp_path / "sub" / f"e.{name}.run")))
        expected = {str(m): v for m, v in ir_measures.calc_aggregate(measures, qrels, run).items()}
        assert result["retrievers"][name] == expected
    # hand-checked: bm25 finds aspirin at 2, insulin at 1, scurvy never, measles (rel 1) at 1 -> RR (0.5+1+0+1)/4
    assert result["retrievers"]["bm25"]["RR@10"] == pytest.approx(0.625)
    # dense: aspirin 1, insulin never, scurvy at 3, measles-vaccine at 1 -> RR (1+0+1/3+1)/4
    assert result["retrievers"]["dense"]["RR@10"] == pytest.approx((1 + 1 / 3 + 1) / 4)
    # a query the run has nothing for scores 0 in the per-query scores too
    assert result["per_query"]["retrievers"]["bm25"]["q-scurvy"]["RR@10"] == 0.0
    assert result["per_query"]["retrievers"]["dense"]["q-scurvy"]["RR@10"] == pytest.approx(1 / 3)
    # R@100 counts relevance >= 1: q-measles in dense finds 1 of 2 relevant
    assert result["retrievers"]["dense"]["R@100"] == pytest.approx((1 + 0 + 1 + 0.5) / 4)


def test_max_queries_evaluates_only_their_judgments(tiny):
    _, t2q = tiny
    result = run_eval(TINY, retrievers="bm25", measures="RR@10", output=None, plot=None, max_queries=2,
                      rankers={"bm25": oracle(t2q)}, answers=False, stdout=io.StringIO(), progress=False)
    assert result["dataset"]["queries"] == 2 and result["dataset"]["qrels"] == 2
    assert result["retrievers"]["bm25"] == {"RR@10": 1.0}


def test_percentiles():
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    assert percentiles([float(i) for i in range(1, 101)]) == {"p50": 50.5, "p95": 95.05, "p99": 99.01}


def _answer(points, references, summary="", abstained=False, summary_citations=()):
    """An /ask response (interface v2) as the model eval checks it through."""
    return AnswerOut.model_validate({"question": "q", "abstained": abstained, "summary": summary,
                                     "summary_citations": list(summary_citations), "points": points,
                                     "references": references, "disclaimer": "D."})


def _ref(n, doc_id, *texts):
    return {"number": n, "doc_id": doc_id, "passages": [{"chunk_id": f"{doc_id}#0", "text": t} for t in texts]}


def test_summary_is_checked_through_its_number_list():
    refs = [_ref(1, "aspirin", "Aspirin reduces fever."), _ref(2, "g1", "The G1P[8] strain was found.")]
    # "[8]" in the copied text is text, not a citation: the summary's numbers are in summary_citations
    wrong = check_answer(_answer([{"text": "The G1P[8] strain was found.", "citations": [2]}], refs,
                                 summary="The G1P[8] strain was found.", summary_citations=[1]), {"g1"})
    assert (wrong.claims, wrong.faithful, wrong.citations_valid, wrong.hit) == (2, 1, True, True)
    # numbered in order of first citation, the summary first: a summary citing 2 before any 1 is invalid
    late = check_answer(_answer([{"text": "Aspirin reduces fever.", "citations": [1]}], refs,
                                summary="The G1P[8] strain was found.", summary_citations=[2]), set())
    assert (late.claims, late.faithful, late.citations_valid) == (2, 2, False)


def test_faithful_valid_answer_that_hits():
    ans = _answer(
        [{"text": "Aspirin reduces fever and relieves mild pain", "citations": [1]},
         {"text": "Insulin   is a hormone\nmade by the pancreas.", "citations": [1, 2]}],
        [_ref(1, "aspirin", "Aspirin reduces fever and relieves mild pain such as headache."),
         _ref(2, "insulin", "Insulin is a hormone made by the pancreas.")],
        summary="Aspirin reduces fever", summary_citations=[1],
    )
    check = check_answer(ans, {"aspirin"})
    assert (check.claims, check.faithful, check.citations_valid, check.abstained, check.hit) == (3, 3, True, False, True)


def test_unfaithful_and_invalid_citations_are_caught():
    refs = [_ref(1, "aspirin", "Aspirin reduces fever."), _ref(2, "scurvy", "Scurvy is caused by a lack of vitamin C.")]
    # the point is in passage 2 but cites only 1; reference 2 is never cited
    wrong_ref = check_answer(_answer([{"text": "Scurvy is caused by a lack of vitamin C.", "citations": [1]}], refs), {"scurvy"})
    assert (wrong_ref.faithful, wrong_ref.citations_valid, wrong_ref.hit) == (0, False, False)
    dangling = check_answer(_answer([{"text": "Aspirin reduces fever.", "citations": [3]}], refs[:1]), set())
    assert (dangling.faithful, dangling.citations_valid) == (0, False)
    misnumbered = check_answer(_answer([{"text": "Aspirin reduces fever.", "citations": [2]}], [{**refs[0], "number": 2}]), set())
    assert misnumbered.citations_valid is False


def test_abstention_and_summary():
    abst = _answer([], [_ref(1, "asthma", "Asthma narrows the airways.")],
                   summary="The sources do not answer this question.", abstained=True)
    good = _answer([{"text": "Asthma narrows the airways.", "citations": [1]}], [_ref(1, "asthma", "Asthma narrows the airways.")])
    bad = _answer([{"text": "Asthma is cured by aspirin.", "citations": [1]}], [_ref(1, "asthma", "Asthma narrows the airways.")])
    checks = [check_answer(a, {"asthma"}) for a in (abst, good, bad)]
    assert checks[0].claims == 0 and checks[0].citations_valid and not checks[0].hit
    assert summarise(checks) == {
        "queries": 3, "faithfulness": 0.5, "citation_validity": 1.0, "abstention_rate": pytest.approx(1 / 3),
        "hit_rate": pytest.approx(2 / 3), "hit_rate_answered": 1.0, "leaning_openings": 0,
    }


def test_claims_that_open_with_a_back_reference_are_counted():
    refs = [_ref(1, "asthma", "Asthma narrows the airways. However, inhalers help most people.")]
    leaning = _answer([{"text": "However, inhalers help most people.", "citations": [1]}], refs)
    standing = _answer([{"text": "Asthma narrows the airways.", "citations": [1]}], refs)
    checks = [check_answer(a, {"asthma"}) for a in (leaning, standing)]
    assert [c.leaning for c in checks] == [1, 0]
    assert summarise(checks)["leaning_openings"] == 1


def _core_answer(sentence: str, doc_id: str, text: str) -> Answer:
    """A core Answer quoting one sentence of one document as summary and point."""
    ref = Reference(1, doc_id, "", doc_id, "research", (), "", None, "", "", None, (Passage(f"{doc_id}#0", None, text),))
    return Answer("q", False, sentence, (Point(sentence, (1,)),), (ref,), (), "D.", summary_citations=(1,))


def test_answer_level_eval_runs_with_an_injected_answerer(tiny):
    ds, t2q = tiny
    corpus = {json.loads(l)["_id"]: json.loads(l) for l in (TINY / "corpus.jsonl").read_text().splitlines()}

    def answerer(question):
        doc = sorted(graded_qrels()[t2q[question]].items(), key=lambda kv: -kv[1])[0][0]
        first = corpus[doc]["text"].split(". ")[0] + "."
        return _core_answer(first, doc, corpus[doc]["text"])

    result = run_eval(TINY, retrievers="bm25", measures="RR@10", output=None, plot=None, rankers={"bm25": oracle(t2q)},
                      answerer=answerer, stdout=io.StringIO(), progress=False)
    ans = result["answers"]
    assert {k: ans[k] for k in ("queries", "faithfulness", "citation_validity", "abstention_rate", "hit_rate")} == {
        "queries": 4, "faithfulness": 1.0, "citation_validity": 1.0, "abstention_rate": 0.0, "hit_rate": 1.0}
    assert set(ans["latency_ms"]) == {"p50", "p95", "p99"}


@pytest.mark.skipif(not DEV.is_dir(), reason="shared MedQuAD dev set not present")
def test_medquad_dev_set_loads_as_beir():
    ds = load_beir(DEV)
    assert (ds.documents, len(ds.queries), len(ds.qrels)) == (16407, 1000, 1000)
