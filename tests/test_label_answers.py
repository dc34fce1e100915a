"""eval/label_answers.py grades answers by the hand-graded labels of the sentences they quote."""
from __future__ import annotations

import json
from types import SimpleNamespace

from eval.label_answers import grade_answers, grade_of, load_labels, report, tally

ROWS = [
    {"qid": "c01", "question": "How is X treated?", "sentence": "X is treated with\nexercise.", "grade": 2,
     "split": "train"},
    {"qid": "c01", "question": "How is X treated?", "sentence": "X is common.", "grade": 0, "split": "train"},
    {"qid": "c01", "question": "How is X treated?", "sentence": "Injections help some.", "grade": 1,
     "split": "train"},
    {"qid": "c02", "question": "What causes X?", "sentence": "X is caused by load.", "grade": 2, "split": "heldout"},
]


def answer_of(summary: str, points: list[str] = (), abstained: bool = False):
    """An Answer-like object with the fields grading reads."""
    return SimpleNamespace(summary=summary, points=[SimpleNamespace(text=p) for p in points], abstained=abstained)


def labels(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    return load_labels(path)


def test_a_span_takes_the_best_grade_of_the_labelled_sentences_it_holds(tmp_path):
    grades = labels(tmp_path)[0].grades
    assert grade_of("X is treated with exercise.", grades) == "2"  # the label's line break is whitespace
    assert grade_of("X is common. Injections help some.", grades) == "1"  # a span of two labelled sentences
    assert grade_of("X IS COMMON.", grades) == "0"
    assert grade_of("Nothing labelled here.", grades) == "unlabelled"


def test_every_summary_and_point_is_counted_per_split(tmp_path):
    answers = {
        "How is X treated?": answer_of("X is treated with exercise.", ["X is common.", "Unlabelled point."]),
        "What causes X?": answer_of("", abstained=True),
    }
    graded = grade_answers(labels(tmp_path), answers.__getitem__)
    counts = tally(graded)
    assert dict(counts["train"]["summaries"]) == {"2": 1}
    assert dict(counts["train"]["points"]) == {"0": 1, "unlabelled": 1}
    assert dict(counts["heldout"]["summaries"]) == {"abstained": 1}
    assert dict(counts["heldout"]["points"]) == {}
    assert report(graded).splitlines() == [
        "train    summaries n=   1  2 1  1 0  0 0  unlabelled 0  abstained 0",
        "train    points    n=   2  2 0  1 0  0 1  unlabelled 1",
        "heldout  summaries n=   1  2 0  1 0  0 0  unlabelled 0  abstained 1",
        "heldout  points    n=   0  2 0  1 0  0 0  unlabelled 0",
    ]


def test_a_line_that_is_not_a_label_row_is_named(tmp_path):
    import pytest

    from eval.label_answers import BadLabels

    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"qid": "c02", "question": "Q?"}) + "\n", encoding="utf-8")
    with pytest.raises(BadLabels, match="^line 2 is not a label row"):
        load_labels(path)
