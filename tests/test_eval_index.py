"""eval/ end to end: the tiny BEIR set through the real ingest, index and answer path (FakeEmbedder)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import ir_measures
import pytest

from eval.runner import default_index_dir, run_eval
from index.embedder import FakeEmbedder


TINY = Path(__file__).parent / "data" / "tiny-beir"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One eval of the tiny set with all three retrievers, answers included."""
    out = tmp_path_factory.mktemp("eval")
    stdout = io.StringIO()
    result = run_eval(TINY, out / "index", "bm25,dense,hybrid", None, out / "tiny.json", out / "tiny.png",
                      embedder=FakeEmbedder(), stdout=stdout, progress=False)
    return result, out, stdout.getvalue()


def test_every_retriever_ranks_the_answer_first(smoke):
    result, _, _ = smoke
    for name in ("bm25", "dense", "hybrid"):
        scores = result["retrievers"][name]
        assert scores["RR@10"] == 1.0, name
        assert scores["R@100"] == 1.0, name
        # every relevant document (grade > 0) in the top 5: 3 queries with one, q-measles with two
        assert scores["P@5"] == pytest.approx((1 + 1 + 1 + 2) / 5 / 4), name


def test_json_shape_and_counts(smoke):
    result, out, table = smoke
    assert json.loads((out / "tiny.json").read_text()) == result
    assert {"dataset", "model", "index", "retrievers", "latency_ms"} <= set(result)
    assert result["dataset"] == {"path": str(TINY), "documents": 6, "queries": 4, "qrels": 6}
    assert result["model"] == "fake-hash-64"
    assert result["index"]["chunks"] >= 6 and isinstance(result["index"]["settings"], dict)
    assert list(result["latency_ms"]) == ["bm25", "dense", "hybrid"]
    assert (out / "tiny.png").stat().st_size > 0
    assert "hybrid" in table and "nDCG@10" in table


def test_matches_independent_ir_measures_on_run_files(smoke):
    result, out, _ = smoke
    qrels = list(ir_measures.read_trec_qrels(str(TINY / "qrels" / "test.trec")))
    measures = [ir_measures.parse_measure(m) for m in ("nDCG@10", "RR@10", "AP@10", "P@5", "R@100")]
    for name in ("bm25", "dense", "hybrid"):
        run = list(ir_measures.read_trec_run(str(out / f"tiny.{name}.run")))
        assert result["retrievers"][name] == {str(m): v for m, v in ir_measures.calc_aggregate(measures, qrels, run).items()}


def test_answers_are_faithful_with_valid_citations(smoke):
    result, _, _ = smoke
    ans = result["answers"]
    assert ans["queries"] == 4
    assert ans["faithfulness"] == 1.0
    assert ans["citation_validity"] == 1.0
    # with the fake embedder one of the four questions abstains; the three answers each cite a relevant document
    assert ans["abstention_rate"] == 0.25 and ans["hit_rate"] == 0.75 and ans["hit_rate_answered"] == 1.0


def test_rerun_reuses_the_index(smoke):
    result, out, _ = smoke
    again = run_eval(TINY, out / "index", "bm25", "RR@10", None, None, answers=False,
                     embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    assert again["index"]["chunks"] == result["index"]["chunks"]
    assert again["retrievers"]["bm25"] == {"RR@10": 1.0}


def test_default_index_dir_is_stable_per_dataset_and_model():
    assert default_index_dir(TINY, "fake") == default_index_dir(TINY, "fake")
    assert default_index_dir(TINY, "fake") != default_index_dir(TINY, "all-MiniLM-L6-v2")
    assert default_index_dir(TINY, "fake").parts[:2] == (".medcite", "eval")


def test_medcite_eval_command_prints_the_three_retrievers(tmp_path, monkeypatch, capsys):
    from service import cli

    monkeypatch.setenv("MEDCITE_MODEL", "fake")
    monkeypatch.delenv("MEDCITE_INDEX", raising=False)
    status = cli.main(["eval", "--dataset", str(TINY), "--index", str(tmp_path / "idx"),
                       "--measures", "RR@10,P@5", "--output", str(tmp_path / "e.json")])
    assert status == 0
    rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()[2:5]}
    assert rows == {"bm25": ["1.0000", "0.2500"], "dense": ["1.0000", "0.2500"], "hybrid": ["1.0000", "0.2500"]}
    assert set(json.loads((tmp_path / "e.json").read_text())["retrievers"]["dense"]) == {"RR@10", "P@5"}


def test_ingest_false_evaluates_an_existing_index_as_is(smoke, tmp_path):
    result, out, _ = smoke
    again = run_eval(TINY, out / "index", "hybrid", "RR@10", None, None, answers=False, ingest=False,
                     embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    assert again["retrievers"]["hybrid"] == {"RR@10": 1.0}
    from index.errors import IndexNotFound

    with pytest.raises(IndexNotFound):
        run_eval(TINY, tmp_path / "none", "bm25", "RR@10", None, None, answers=False, ingest=False,
                 embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)


def test_refuses_to_evaluate_into_an_index_holding_other_files(tmp_path):
    from service.pipeline import ingest_paths

    article = tmp_path / "article.md"
    article.write_text("# Sciatica\n\nSciatica is pain along the sciatic nerve, often from a disc herniation.\n")
    ingest_paths([article], tmp_path / "serving", FakeEmbedder())
    with pytest.raises(ValueError, match=r"already indexes 1 other file\(s\) \(e\.g\. .*article\.md\)"):
        run_eval(TINY, tmp_path / "serving", "bm25", embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    # nothing was added to it
    from index.store import Index

    assert Index.open(tmp_path / "serving").source_files() == [str(article.resolve())]


def test_reevaluating_into_its_own_index_is_allowed(smoke, tmp_path):
    _, out, _ = smoke
    again = run_eval(TINY, out / "index", "bm25", embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    assert again["retrievers"]["bm25"]["RR@10"] == 1.0
