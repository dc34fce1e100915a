"""Contract invariants of answer() over many questions: verbatim text, citations, numbering, disclaimer."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.embedder import FakeEmbedder
from service.answer import DEFAULT_DISCLAIMER, answer
from service.render import answer_to_dict

REPO = Path(__file__).resolve().parents[1]
DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad-dev"
OFFTOPIC = [q.strip() for q in (REPO / "tests" / "data" / "offtopic_questions.txt").read_text().splitlines() if q.strip()]
USER_QUESTIONS = [
    "What is the difference between pain in the buttocks and low back pain?",
    "What are the causes of musculoskeletal buttock pain?",
    "Lower back pain above buttocks",
]


def norm(text: str) -> str:
    return " ".join(text.split())


def check_contract(d: dict) -> None:
    """Every invariant of CONTRACT.md's /ask answer, on the JSON rendering."""
    assert d["disclaimer"] == DEFAULT_DISCLAIMER
    numbers = [r["number"] for r in d["references"]]
    assert numbers == list(range(1, len(numbers) + 1))
    passages = {r["number"]: [norm(p["text"]) for p in r["passages"]] for r in d["references"]}
    if d["abstained"]:
        assert d["points"] == [] and d["summary_citations"] == []
        return
    claims = [(d["summary"], d["summary_citations"])] + [(p["text"], p["citations"]) for p in d["points"]]
    assert len(d["points"]) <= 8
    sections = [p["section"] for p in d["points"]]
    assert all(sections) and sections == sorted(sections, key=sections.index)  # each section contiguous
    order: list[int] = []
    for text, cites in claims:
        assert cites and cites == sorted(set(cites))
        assert all(n in passages for n in cites)
        # verbatim in a passage of a reference it cites (the agreeing sources are cited beside it)
        assert any(norm(text) in p for n in cites for p in passages[n]), text
        order += [n for n in cites if n not in order]
    assert order == numbers  # every reference cited, numbered in order of first citation
    assert len(d["related_questions"]) <= 5
    assert norm(d["question"]).lower() not in [q.lower() for q in d["related_questions"]]


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    """The default corpus through the real ingest and Index, with the fake embedder."""
    from index.store import Index
    from service.pipeline import ingest_paths

    path = tmp_path_factory.mktemp("idx")
    md = sorted((REPO / "corpus").glob("*.md"))  # PDFs would need the isolated reader: not needed here
    ingest_paths(md, path, FakeEmbedder())
    return Index.open(path, embedder=FakeEmbedder())


def test_default_corpus_answers_users_and_abstains_off_topic(corpus_index):
    headings = sorted({c.heading for d in corpus_index.documents() for c in corpus_index.chunks_of(d.doc_id)
                       if c.heading.endswith("?")})
    for q in USER_QUESTIONS + headings:
        a = answer(q, corpus_index, min_evidence=0.1)
        check_contract(answer_to_dict(a))
        if q in USER_QUESTIONS:
            assert not a.abstained  # points: only those reaching the fitted threshold (possibly none)
    abstained = [answer(q, corpus_index, min_evidence=0.1) for q in OFFTOPIC + ["What are the symptoms of measles?"]]
    for a in abstained:
        check_contract(answer_to_dict(a))
    # the rate (>= 95 %) is a property of the real model: eval/abstention.py measures it; the fake
    # embedder's cosines are noise, so here only coverage guards, and the named examples must hold
    named = {"What is the capital of France?", "How do I change a car tyre?", "What are the symptoms of measles?"}
    assert all(a.abstained for a in abstained if a.question in named)
    assert sum(a.abstained for a in abstained) >= 0.9 * len(abstained)


@pytest.mark.skipif(not DEV.exists(), reason="medquad-dev data not present")
def test_dev_questions_keep_the_contract():
    """150 dev questions over their documents plus distractors (in-memory dense retriever, fake embedder)."""
    from eval.abstention import DenseMemoryIndex, load_sample

    questions, docs = load_sample(DEV, 150, 150, seed=1)
    index = DenseMemoryIndex(docs, FakeEmbedder())
    answers = [answer(q, index, min_evidence=0.1) for q in questions + OFFTOPIC[:10]]
    for a in answers:
        check_contract(answer_to_dict(a))
    # the fake embedder retrieves poorly, so many abstain; the <= 5 % rate is the real model's
    # (eval/abstention.py). Enough must answer for the checks above to have bitten.
    assert sum(not a.abstained for a in answers) >= 50
