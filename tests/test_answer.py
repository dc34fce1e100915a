"""answer(): exact results on a tiny literal corpus (in-memory retriever, FakeEmbedder)."""
from __future__ import annotations

import pytest

from index.types import Filters
from service.answer import (
    DEFAULT_ABSTAIN_TEXT,
    DEFAULT_DISCLAIMER,
    EmptyQuestion,
    Point,
    answer,
)
from service.render import answer_to_dict, answer_to_markdown, answer_to_text
from service.text import is_boilerplate, query_terms, stem

try:
    from answer_helpers import MemoryRetriever, make_document
except ImportError:  # tests/ became a package
    from tests.answer_helpers import MemoryRetriever, make_document

SCIATICA = "Sciatica is pain that runs along the sciatic nerve from the buttock down the leg."
LOW = 0.1  # FakeEmbedder cosines are lower than MiniLM's; the calibrated default is for the real model


def corpus() -> list:
    """Three short articles; the sciatica definition appears word for word in two of them."""
    return [
        make_document("sciatica", "Sciatica", [
            ("What is sciatica?", f"{SCIATICA} It is usually caused by a herniated lumbar disc pressing on a "
             "nerve root. Most episodes of sciatica settle within six weeks without surgery."),
            ("How is sciatica treated?", "Staying active and taking simple analgesics are the first steps in "
             "treating sciatica. Surgery is considered when severe leg pain from sciatica persists beyond six weeks."),
            ("References", "Smith J, Jones K, Brown A. Sciatica in primary care. BMJ. 2010;340:c1234."),
        ], authors=("Smith J", "Jones K"), type="review", journal="BMJ", year=2010, doi="10.1136/bmj.c1234"),
        make_document("piriformis", "Piriformis syndrome", [
            ("What is piriformis syndrome?", "Piriformis syndrome is buttock pain caused by irritation of the "
             f"sciatic nerve by the piriformis muscle. {SCIATICA}"),
            ("Can piriformis syndrome cause sciatica?", "Piriformis syndrome can mimic sciatica because the "
             "sciatic nerve passes under the piriformis muscle in most people."),
        ], type="patient information", year=2020, url="https://example.org/piriformis"),
        make_document("measles", "Measles", [
            ("What are the symptoms of measles?", "Measles causes a high fever, cough, runny nose and a red "
             "blotchy rash. The rash usually appears three to five days after the first symptoms."),
        ], type="guideline", year=2019),
    ]


@pytest.fixture(scope="module")
def retriever():
    return MemoryRetriever(corpus(), pages={"sciatica": 3})


def test_definition_is_the_summary_and_the_duplicate_cites_both(retriever):
    a = answer("What is sciatica?", retriever, min_evidence=LOW)
    assert not a.abstained
    assert a.summary == SCIATICA
    assert a.summary_citations == (1, 2)
    # the definition sits word for word in both articles: the summary cites both; one other sentence is
    # more likely an answer than not (the point threshold), under its own section heading
    assert [r.doc_id for r in a.references] == ["piriformis", "sciatica"]
    assert a.points == (Point("Surgery is considered when severe leg pain from sciatica persists beyond six weeks.",
                              (2,), "How is sciatica treated?"),)
    assert a.uncovered == ()
    assert a.related_questions == (
        "What is piriformis syndrome?", "Can piriformis syndrome cause sciatica?", "How is sciatica treated?")
    assert a.disclaimer == DEFAULT_DISCLAIMER


def test_contract_json(retriever):
    d = answer_to_dict(answer("What is sciatica?", retriever, min_evidence=LOW))
    assert (d["summary"], d["summary_citations"]) == (SCIATICA, [1, 2])
    assert d["points"] == [{"text": "Surgery is considered when severe leg pain from sciatica persists beyond "
                                     "six weeks.", "citations": [2], "section": "How is sciatica treated?"}]
    ref = d["references"][1]
    assert {k: ref[k] for k in ("number", "doc_id", "title", "type", "authors", "journal", "year", "url", "doi",
                                "page", "pages", "cited_works")} == {
        "number": 2, "doc_id": "sciatica", "title": "Sciatica", "type": "review", "authors": ["Smith J", "Jones K"],
        "journal": "BMJ", "year": 2010, "url": None, "doi": "10.1136/bmj.c1234", "page": 3, "pages": [3],
        "cited_works": []}
    assert [p["chunk_id"] for p in ref["passages"]] == ["sciatica#0", "sciatica#1"]
    assert d["references"][0]["url"] == "https://example.org/piriformis"
    assert set(d["timings_ms"]) == {"retrieve", "compose", "total"}
    assert set(d) == {"question", "abstained", "summary", "summary_citations", "points", "references", "uncovered",
                      "related_questions", "disclaimer", "timings_ms"}


def test_off_topic_question_abstains_with_nearest_sources(retriever):
    a = answer("What is the capital of France?", retriever, min_evidence=LOW)
    assert a.abstained and a.points == () and a.summary == DEFAULT_ABSTAIN_TEXT
    assert a.coverage == 0.0
    assert [r.number for r in a.references] == [1, 2, 3]
    assert a.disclaimer == DEFAULT_DISCLAIMER
    d = answer_to_dict(a)
    assert d["abstained"] is True and d["points"] == [] and d["summary"] == DEFAULT_ABSTAIN_TEXT


def test_weak_dense_evidence_abstains(retriever):
    assert answer("What is sciatica?", retriever, min_evidence=0.99).abstained


def test_texts_are_configurable(retriever):
    a = answer("Who won the 2018 World Cup?", retriever, disclaimer="D.", abstain_text="No answer here.")
    assert (a.abstained, a.summary, a.disclaimer) == (True, "No answer here.", "D.")
    assert answer("What is sciatica?", retriever, min_evidence=LOW, disclaimer="D.").disclaimer == "D."


def test_off_topic_sentences_never_pad_the_points(retriever):
    a = answer("What are the symptoms of measles?", retriever, min_evidence=LOW)
    assert a.summary == "The rash usually appears three to five days after the first symptoms."
    assert a.points == ()
    assert [r.doc_id for r in a.references] == ["measles"]


def test_top_k_limits_the_references(retriever):
    a = answer("What is sciatica?", retriever, top_k=1, min_evidence=LOW)
    assert [r.doc_id for r in a.references] == ["sciatica"]
    assert a.summary_citations == (1,)


def test_filters_reach_the_retriever(retriever):
    a = answer("What is sciatica?", retriever, filters=Filters(types=("patient information",)), min_evidence=LOW)
    assert [r.doc_id for r in a.references] == ["piriformis"]
    assert a.summary == SCIATICA


def test_reference_lists_are_never_evidence(retriever):
    a = answer("Sciatica in primary care BMJ Smith Jones Brown", retriever, min_evidence=LOW)
    assert all("2010;340" not in p.text for p in a.points) and "2010;340" not in a.summary


def test_empty_question_is_an_error(retriever):
    with pytest.raises(EmptyQuestion):
        answer("   ", retriever)


def test_renderings_carry_markers_references_and_disclaimer(retriever):
    a = answer("What is sciatica?", retriever, min_evidence=LOW)
    md = answer_to_markdown(a)
    assert md.startswith(f"**{SCIATICA}** [1, 2]")
    assert "2. Smith J, Jones K. Sciatica. BMJ, 2010. Review. p. 3. <https://doi.org/10.1136/bmj.c1234>" in md
    assert md.rstrip().endswith(f"*{DEFAULT_DISCLAIMER}*")
    text = answer_to_text(a)
    assert "[1] Piriformis syndrome. 2020. Patient information. https://example.org/piriformis." in text
    assert "Related questions:" in text and "verify every" in text
    abst = answer_to_text(answer("What is the capital of France?", retriever))
    assert "Nearest sources:" in abst and DEFAULT_ABSTAIN_TEXT in abst


@pytest.mark.parametrize("sentence, heading", [
    ("van Tulder M, Becker A, Bekkering T, et al. European guidelines. Eur Spine J. 2006;15(Suppl 1):S169-S191.", ""),
    ("Figure 2. Distribution of pain in the buttock of twelve volunteers after injection.", ""),
    ("© 2021 The Authors. Published by Elsevier Ltd on behalf of the society.", ""),
    ("Available from https://doi.org/10.1000/xyz123 and the publisher website today.", ""),
    ("Sacroiliac joint pain in clinical practice, a narrative review. DOI: 10.1000/abc.", ""),  # upper case too
    ("What causes pain in the buttock after a long time sitting?", ""),
    ("Causes of buttock pain", ""),
    ("Buttock pain is common.", ""),  # under six words
    ("Pain in the buttock is common in adults who sit a lot.", "References"),
])
def test_boilerplate_is_dropped(sentence, heading):
    assert is_boilerplate(sentence, heading)


@pytest.mark.parametrize("sentence, glued", [
    ("Causes\nMost buttock pain comes from the lumbar spine or the sacroiliac joints.", True),
    ("Who is at risk of a sacral insufficiency fracture?\nOlder women with osteoporosis are most at risk.", True),
    # a sentence wrapped across the lines of a PDF, starting mid-line: its next line goes on
    ("Sacral insufficiency fractures occur mainly in older women with postmenopausal osteoporosis\n(Lyders 2010).",
     False),
    ("Fractures that\nare unstable or displaced may need surgical fixation.", False),
    ("Pain from the hip is often felt in the buttock, as described by the\nAmerican College of Rheumatology.", False),
    ("Proximal hamstring tendinopathy is seen mainly in runners, including middle- and long-distance runners\n"
     "and sprinters, and in sports that involve repeated kicking.", False),
])
def test_a_heading_glued_to_a_sentence_is_told_from_a_sentence_wrapped_across_lines(sentence, glued):
    from service.text import glued_heading

    assert glued_heading(sentence) is glued
    assert is_boilerplate(sentence) is glued


def test_statements_are_kept():
    assert not is_boilerplate("Pain in the buttock is common in adults who sit for long periods.")
    assert not is_boilerplate("Radicular pain is shooting or electric and runs in a narrow band down the leg.")


def test_a_percent_sign_names_a_percentage():
    from service.text import content_terms

    assert stem("percentage") in content_terms("About 15% of cases had surgery.")
    assert stem("percentage") in content_terms("What percentage of cases had surgery?")
    assert stem("percentage") not in content_terms("About 15 of 100 cases had surgery.")
    # the chunk profile's one-pass terms agree
    from service.text import terms_and_bigrams

    assert stem("percentage") in terms_and_bigrams("About 15% of cases had surgery.")[0]


def test_query_terms_separate_topic_from_template():
    q = query_terms("What are the causes of musculoskeletal buttock pain?")
    assert q.topic == {"musculoskeletal", "buttock", "pain"}
    assert q.generic == {"caus"}
    assert stem("buttocks") == stem("buttock") and stem("causes") == stem("cause")


@pytest.mark.parametrize("question, topic", [
    # the words of the question's frame say what kind of answer is wanted, not what it is about
    ("How long does sciatica usually last?", {"sciatica"}),
    ("What is the role of physiotherapy in hamstring tendinopathy?", {"physiotherapy", "hamstr", "tendinopathy"}),
    ("Who gets sacral insufficiency fractures?", {"sacral", "insufficiency", "fractur"}),
    ("How quickly does a sacral fracture heal?", {"sacral", "fractur"}),
    ("How long does a sacral insufficiency fracture take to heal?", {"sacral", "insufficiency", "fractur"}),
    ("How quickly does sciatica get better?", {"sciatica"}),
    ("What are the risk factors for proximal hamstring tendinopathy?", {"proximal", "hamstr", "tendinopathy"}),
    ("How accurate are sacroiliac provocation tests?", {"sacroiliac", "provocation"}),
    # the kind of answer asked for, by its noun
    ("What is the prognosis of acute low back pain?", {"acut", "low", "back", "pain"}),
    ("How is the diagnosis of sciatica made?", {"sciatica"}),
    ("What treatments are available for sacroiliac joint pain?", {"sacroiliac", "joint", "pain"}),
    ("When is surgery needed for a lumbar disc herniation?", {"surgery", "lumbar", "disc", "herniation"}),
    ("When is imaging recommended for sciatica?", {"imag", "sciatica"}),
    # the same words outside a frame are the topic
    ("Is long-term opioid use safe?", {"long", "term", "opioid", "safe"}),
    ("What was the last follow-up visit?", {"last", "follow", "visit"}),
    ("Does bone heal faster after a fracture?", {"bone", "heal", "faster", "fractur"}),
    ("Is surgery needed for a disc herniation?", {"surgery", "need", "disc", "herniation"}),
])
def test_query_terms_leave_the_question_frame_out_of_the_topic(question, topic):
    assert query_terms(question).topic == topic


def test_comparison_candidates_mark_sentences_naming_both_sides():
    from service.candidates import FEATURES, build_candidates
    from service.retrieve import retrieve
    from service.text import compared_terms

    question = "What is the difference between pain in the buttocks and low back pain?"
    assert compared_terms(question) == (frozenset({"buttock"}), frozenset({"low", "back"}))
    assert compared_terms("Sciatica vs piriformis syndrome?") == (frozenset({"sciatica"}),
                                                                  frozenset({"piriformis", "syndrom"}))
    assert compared_terms("What causes buttock pain?") is None
    assert compared_terms("What is the difference between sciatica and sciatica?") is None
    one_side = "Central lumbar pain is usually classed as non-specific low back pain by most clinicians."
    both = "Most of the buttock lies inside the low back region, so studies count buttock pain as back pain."
    index = MemoryRetriever([make_document("d", "Buttock and back", [("Definitions", f"{one_side} {both}")])])
    cands = build_candidates(retrieve(question, index, k=5), index, 5)
    col = FEATURES.index("both_sides")
    flags = {s.text: bool(row[col]) for s, row in zip(cands.items, cands.features)}
    assert flags == {one_side: False, both: True}
