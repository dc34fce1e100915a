"""The `medcite` command line: exit statuses, one-line errors, text and JSON answers."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOC = """---
title: Buttock pain versus low back pain
type: guideline
year: 2004
---
# Where is buttock pain felt?

Buttock pain is felt below the iliac crest and above the gluteal fold.
Low back pain is felt between the twelfth ribs and the iliac crest.
Sacroiliac joint pain is usually felt in the buttock rather than the low back.
"""


@pytest.fixture(autouse=True)
def fake_model(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDCITE_MODEL", "fake")
    monkeypatch.delenv("MEDCITE_INDEX", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "buttock.md").write_text(DOC, encoding="utf-8")
    return d


def test_ingest_prints_summary_and_uses_default_paths(corpus, tmp_path, capsys):
    assert main(["ingest"]) == 0  # default PATH corpus/, default index .medcite/index
    out = capsys.readouterr().out
    assert out.startswith("added 1, updated 0, unchanged 0, removed 0, failed 0; ")
    assert (tmp_path / ".medcite" / "index").is_dir()
    assert main(["ingest"]) == 0
    assert capsys.readouterr().out.startswith("added 0, updated 0, unchanged 1, ")


def test_ingest_prints_one_failed_line_per_failure_but_succeeds(corpus, tmp_path, capsys):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    assert main(["ingest", str(corpus), "--index", str(tmp_path / "idx")]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 1 and out[0].startswith("added 1, updated 0, unchanged 0, removed 0, failed 1; ")
    mentions = [line for line in (captured.out + captured.err).splitlines() if "broken.pdf" in line]
    assert len(mentions) == 1 and mentions[0].startswith(f"FAILED {corpus / 'broken.pdf'}: ")


def test_ingest_where_everything_fails_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    assert main(["ingest", str(bad), "--index", str(tmp_path / "idx")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "medcite: no file could be ingested (1 failed)"


def test_ingest_missing_path_exits_1(tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"medcite: no such file or directory: {tmp_path / 'nope'}\n"


def test_ask_text_and_json(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEDCITE_INDEX", str(tmp_path / "env-idx"))
    assert main(["ingest", str(corpus)]) == 0
    capsys.readouterr()
    question = "Where is buttock pain felt?"
    assert main(["ask", question, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["question"] == question and body["disclaimer"]
    assert main(["ask", question]) == 0
    text = capsys.readouterr().out
    if not body["abstained"]:
        assert body["references"][0]["title"] == "Buttock pain versus low back pain"
        assert "Buttock pain versus low back pain" in text and "[1]" in text
    assert body["disclaimer"].split()[0] in text


def test_ask_without_index_is_one_line(tmp_path, capsys):
    assert main(["ask", "anything?", "--index", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"medcite: no index at {tmp_path / 'none'}: run `medcite ingest` first\n"


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["ask"], ["ask", "   "], ["serve", "--port", "x"],
                                  ["eval"], ["ask", "q", "--top-k", "0"], ["eval", "--dataset", "d", "--top-k", "21"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: medcite" in capsys.readouterr().err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert 'medcite ask "What causes buttock pain?"' in capsys.readouterr().out


def test_eval_max_queries_and_serving_index_guard(tmp_path, corpus, capsys, monkeypatch):
    tiny = Path(__file__).parent / "data" / "tiny-beir"
    assert main(["eval", "--dataset", str(tiny), "--index", str(tmp_path / "ev"), "--retrievers", "bm25",
                 "--max-queries", "2", "--top-k", "3", "--output", str(tmp_path / "ev.json")]) == 0
    written = json.loads((tmp_path / "ev.json").read_text())
    assert written["dataset"]["queries"] == 2
    assert written["options"]["top_k"] == 3
    assert main(["eval", "--dataset", str(tiny), "--max-queries", "0"]) == 1
    assert "--max-queries must be at least 1" in capsys.readouterr().err
    # MEDCITE_INDEX pointing at a serving index: eval refuses instead of adding the benchmark corpus to it
    assert main(["ingest", str(corpus), "--index", str(tmp_path / "serving")]) == 0
    monkeypatch.setenv("MEDCITE_INDEX", str(tmp_path / "serving"))
    capsys.readouterr()
    assert main(["eval", "--dataset", str(tiny), "--retrievers", "bm25"]) == 1
    err = capsys.readouterr().err
    assert "already indexes 1 other file(s)" in err and err.count("\n") == 1


def test_eval_missing_dataset_exits_1(tmp_path, capsys):
    assert main(["eval", "--dataset", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"medcite: no dataset folder at {tmp_path / 'nope'}\n"


def test_python_m_wrappers(tmp_path):
    for module, command in (("ingest", "ingest"), ("index", "ingest"), ("eval", "eval"), ("service", "ask")):
        args = ["--help"] if module != "service" else ["ask", "--help"]
        r = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"usage: medcite {command}")
