"""The graded corpus labels, the README questions and the uncovered-question set are valid and true to the corpus.

eval/labels/corpus_labels.jsonl trains and checks the learned sentence scorer: every labelled sentence must
be one of the sentences the index stores for its source (blingfire, per section, as ingested), so a label
can be joined to index sentences by text. tests/data/uncovered_questions.jsonl says what the corpus does
not cover; the claim is checked against the corpus text here, so it stays true when the corpus changes.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest

from ingest.readers import read_file
from ingest.sentences import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "eval" / "labels" / "corpus_labels.jsonl"
QUESTIONS = ROOT / "tests" / "data" / "corpus_questions.txt"
UNCOVERED = ROOT / "tests" / "data" / "uncovered_questions.jsonl"

FIELDS = {"qid", "question", "intent", "source", "sentence", "grade", "split"}
# service/intent.py's INTENTS: "general" is a question with no interrogative frame ("Lower back pain above buttocks")
INTENTS = {"definition", "cause", "diagnosis", "treatment", "prognosis", "figure", "comparison", "yes/no", "list",
           "general"}
REQUIRED_INTENTS = INTENTS - {"general"}  # the brief's nine kinds of question must all be represented
GRADES, SPLITS = {0, 1, 2}, {"train", "heldout"}
MIN_QUESTIONS, MIN_PAIRS = 45, 300
PAIRS_PER_QUESTION = range(5, 11)  # 5 to 10 graded sentences per question
HELDOUT_SHARE = (0.20, 0.30)  # about a quarter of the questions, whole questions only
FIRST_USER_QUESTIONS = [
    "What is the difference between pain in the buttocks and low back pain?",
    "What are the causes of musculoskeletal buttock pain?",
    "Lower back pain above buttocks",
]
MORE_QUESTIONS = 10
MIN_ABSTAIN, MIN_PARTIAL = 10, 5


def labels() -> list[dict]:
    """Every label row."""
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def stored_sentences(source: str) -> frozenset[str]:
    """The sentences the index stores for one corpus file: blingfire over each section of the ingested text."""
    (doc,) = read_file(ROOT / source)
    return frozenset(doc.text[s:e] for sec in doc.sections for s, e in sentence_spans(doc.text, sec.start, sec.end))


@cache
def corpus_text() -> str:
    """All ingested corpus text, lower-cased, whitespace collapsed (PDF lines join into sentences)."""
    paths = sorted((ROOT / "corpus").glob("*.md")) + sorted((ROOT / "corpus").glob("*.pdf"))
    return " ".join(" ".join(read_file(p)[0].text.split()).lower() for p in paths)


def mentions(term: str) -> bool:
    """Whether the corpus uses the term as a whole word or phrase (case-insensitive)."""
    return re.search(rf"\b{re.escape(term.lower())}", corpus_text()) is not None


def test_label_rows_have_the_shared_format():
    for row in labels():
        assert set(row) == FIELDS
        assert row["grade"] in GRADES and row["split"] in SPLITS and row["intent"] in INTENTS
        assert re.fullmatch(r"c\d{2}", row["qid"]) and row["source"].startswith("corpus/")


def test_every_labelled_sentence_is_a_stored_sentence_of_its_source():
    for row in labels():
        assert row["sentence"] in stored_sentences(row["source"]), (row["qid"], row["sentence"][:60])
        if row["source"].endswith(".md"):  # and verbatim in the file itself
            assert row["sentence"] in (ROOT / row["source"]).read_text(encoding="utf-8")


def test_each_question_is_one_unit_with_graded_answers_and_hard_negatives():
    by_qid = defaultdict(list)
    for row in labels():
        by_qid[row["qid"]].append(row)
    for qid, rows in by_qid.items():
        assert len({(r["question"], r["intent"], r["split"]) for r in rows}) == 1, qid  # heldout = whole questions
        assert len(rows) in PAIRS_PER_QUESTION, qid
        assert len({(r["source"], r["sentence"]) for r in rows}) == len(rows), qid
        grades = Counter(r["grade"] for r in rows)
        assert grades[2] >= 1 and grades[0] >= 1, qid
    assert len({rows[0]["question"] for rows in by_qid.values()}) == len(by_qid)


def test_label_counts_and_spread():
    rows = labels()
    questions = {r["qid"]: r for r in rows}
    heldout = [q for q, r in questions.items() if r["split"] == "heldout"]
    assert len(questions) >= MIN_QUESTIONS and len(rows) >= MIN_PAIRS
    assert HELDOUT_SHARE[0] <= len(heldout) / len(questions) <= HELDOUT_SHARE[1]
    assert {r["intent"] for r in questions.values()} >= REQUIRED_INTENTS
    assert len({r["source"] for r in rows}) == len(list((ROOT / "corpus").glob("*.md"))) + len(
        list((ROOT / "corpus").glob("*.pdf")))  # every article is labelled


def test_readme_questions_are_the_first_users_then_ten_more():
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == FIRST_USER_QUESTIONS
    assert len(lines) == 3 + MORE_QUESTIONS and len(set(lines)) == len(lines)
    assert "How accurate is the slump test?" in lines
    labelled = {r["question"] for r in labels()}
    assert set(lines) <= labelled  # each has graded answers in the labels


def uncovered_rows() -> list[dict]:
    """Every row of the uncovered-question set."""
    return [json.loads(line) for line in UNCOVERED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_uncovered_question_set_shape_and_counts():
    rows = uncovered_rows()
    expects = Counter(r["expect"] for r in rows)
    assert expects["abstain"] >= MIN_ABSTAIN and expects["partial"] >= MIN_PARTIAL
    assert set(expects) == {"abstain", "partial"}
    for row in rows:
        assert row["uncovered"] and all(t.lower() in row["question"].lower() for t in row["uncovered"])
        assert set(row) == ({"question", "expect", "uncovered", "covered"} if row["expect"] == "partial"
                            else {"question", "expect", "uncovered"})


@pytest.mark.parametrize("row", uncovered_rows(), ids=lambda r: r["question"][:40])
def test_uncovered_terms_are_absent_from_the_corpus_and_covered_terms_present(row):
    assert [t for t in row["uncovered"] if mentions(t)] == []
    assert [t for t in row.get("covered", []) if not mentions(t)] == []
