"""Grade answers against hand-graded labels: how often the summary is a sentence a clinician would quote.

    python -m eval.label_answers --index DIR [--labels eval/labels/corpus_labels.jsonl] [--show]

The labels are rows {"qid", "question", "sentence", "grade", "split"} (eval/labels/README.md: 2 = the answer,
1 = partial or background, 0 = does not answer). Each labelled question is answered with answer() over the
index; a quoted span takes the best grade among the labelled sentences it holds (whitespace collapsed, case
folded), and a span holding none of them is "unlabelled" (the labels grade 5-10 sentences per question, not
every sentence of the corpus). Prints, per split, the count of summaries and of points at each grade. With
--show, each question's summary and its grade, for reading the misses.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from service.text import collapse

LABELS = Path(__file__).resolve().parent / "labels" / "corpus_labels.jsonl"
ABSTAINED, UNLABELLED = "abstained", "unlabelled"
OUTCOMES = ("2", "1", "0", UNLABELLED, ABSTAINED)


@dataclass(frozen=True)
class LabelledQuestion:
    """One question of the labels and the grade of each of its labelled sentences (collapsed, lower-cased)."""

    qid: str
    question: str
    split: str
    grades: dict


@dataclass(frozen=True)
class Graded:
    """The outcome of one answered question: the summary's grade and each point's."""

    question: LabelledQuestion
    summary: str
    summary_grade: str
    point_grades: tuple[str, ...]


class BadLabels(ValueError):
    """A labels file line that is not a label row."""


def load_labels(path: Path) -> list[LabelledQuestion]:
    """The labelled questions of a labels file, in file order; BadLabels names the first line that is not a
    label row."""
    by_question: dict[tuple[str, str, str], dict] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = (row["qid"], row["question"], row["split"])
            by_question.setdefault(key, {})[normalised(row["sentence"])] = int(row["grade"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadLabels(f"line {n} is not a label row ({type(exc).__name__}: {exc}); each line needs qid, "
                            "question, sentence, grade and split") from None
    return [LabelledQuestion(qid, question, split, grades) for (qid, question, split), grades in by_question.items()]


def normalised(text: str) -> str:
    """Whitespace collapsed and case folded: a PDF sentence keeps its line breaks in the labels, not in answers."""
    return collapse(text).lower()


def grade_of(span: str, grades: dict) -> str:
    """The best grade among the labelled sentences the quoted span holds, else UNLABELLED."""
    quoted = normalised(span)
    held = [grade for sentence, grade in grades.items() if sentence in quoted]
    return str(max(held)) if held else UNLABELLED


def grade_answers(questions: list[LabelledQuestion], ask: Callable) -> list[Graded]:
    """Answer every question with `ask(question) -> Answer` and grade its summary and points."""
    out = []
    for q in questions:
        result = ask(q.question)
        if result.abstained:
            out.append(Graded(q, "", ABSTAINED, ()))
            continue
        points = tuple(grade_of(p.text, q.grades) for p in result.points)
        out.append(Graded(q, result.summary, grade_of(result.summary, q.grades), points))
    return out


def tally(graded: list[Graded]) -> dict[str, dict[str, Counter]]:
    """Per split: the count of summaries and of points at each outcome."""
    out: dict[str, dict[str, Counter]] = {}
    for g in graded:
        split = out.setdefault(g.question.split, {"summaries": Counter(), "points": Counter()})
        split["summaries"][g.summary_grade] += 1
        split["points"].update(g.point_grades)
    return out


def report(graded: list[Graded], show: bool = False) -> str:
    """The tally as text (and each question's summary with --show)."""
    lines = []
    for split, counts in sorted(tally(graded).items(), reverse=True):  # train before heldout
        for kind in ("summaries", "points"):
            c = counts[kind]
            cells = "  ".join(f"{o} {c[o]}" for o in OUTCOMES if o != ABSTAINED or kind == "summaries")
            lines.append(f"{split:8} {kind:9} n={sum(c.values()):4}  {cells}")
    if show:
        for g in graded:
            lines.append(f"[{g.summary_grade}] {g.question.qid} {g.question.question}\n    {g.summary}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Open the index, answer and grade every labelled question, print the tally."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True, help="a built medcite index of the labelled corpus")
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--show", action="store_true", help="print each question's summary and its grade")
    args = p.parse_args(argv)
    try:
        questions = load_labels(args.labels)
    except OSError as exc:
        p.error(f"cannot read the labels file: {exc.strerror}")
    except BadLabels as exc:
        p.error(str(exc))
    from index.embedder import load_embedder
    from index.store import Index
    from service.answer import answer
    from service.settings import Settings

    index = Index.open(args.index, embedder=load_embedder(**Settings().embedder_options()))
    print(report(grade_answers(questions, lambda q: answer(q, index)), args.show))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
