"""The answer path's stages one by one: intent, candidates, scorer, selection (standalone spans, coherence)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from service.answer_types import Retrieval
from service.candidates import FEATURES, build_candidates
from service.intent import question_intent
from service.scoring import ScorerMismatch, default_scorer, score, scorer_from_dict
from service.select import conflicting, quotable_spans, select

try:
    from answer_helpers import MemoryRetriever, make_document
except ImportError:  # tests/ became a package
    from tests.answer_helpers import MemoryRetriever, make_document


@pytest.mark.parametrize("question, kind", [
    ("How accurate is the slump test?", "diagnosis"),
    ("What is the sensitivity of the straight leg raise?", "diagnosis"),
    ("What is the difference between pain in the buttocks and low back pain?", "comparison"),
    ("How many children were infected by HIV-1 in 2008-2009, worldwide?", "figure"),
    ("What are the causes of musculoskeletal buttock pain?", "list"),
    ("How is sciatica treated?", "treatment"),
    ("Why does the sacroiliac joint hurt?", "cause"),
    ("What is the prognosis of acute low back pain?", "prognosis"),
    ("What is piriformis syndrome?", "definition"),
    ("Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?", "yes/no"),
    ("Lower back pain above buttocks", "general"),
    # the time course of a condition is a prognosis, whether the source gives it in words or figures
    ("How long does sciatica usually last?", "prognosis"),
    ("How quickly does acute low back pain get better?", "prognosis"),
    ("How long is the SAIBK gene?", "figure"),  # a length, not a time course
    ("How long did patients stay in hospital?", "figure"),
    # what happens untreated is the natural history, though the question names the treatment
    ("Does a herniated lumbar disc shrink without surgery?", "prognosis"),
    ("Can sciatica get better without any treatment?", "prognosis"),
    ("Is surgery better than physiotherapy for sciatica?", "comparison"),
    ("Does surgery help sciatica?", "treatment"),
    # who gets a condition: its risk factors and the people it affects
    ("Who gets sacral insufficiency fractures?", "cause"),
    ("Who is at risk of a sacral insufficiency fracture?", "cause"),
    # telling two conditions apart is a comparison
    ("How do you tell hip osteoarthritis from lumbar spine pain?", "comparison"),
    ("How can ischiogluteal bursitis be told apart from proximal hamstring tendinopathy?", "comparison"),
    ("Which features point to the hip rather than the spine?", "comparison"),
])
def test_question_intent(question, kind):
    assert question_intent(question).kind == kind


def test_intent_cues_match_answers_of_that_kind():
    accuracy = question_intent("How accurate is the slump test?")
    assert accuracy.sentence_cue("The slump test had a sensitivity of 0.84 and a specificity of 0.83.")
    assert not accuracy.sentence_cue("The slump test is done with the patient sitting.")
    treatment = question_intent("How is sciatica treated?")
    assert treatment.heading_cue("Treatment") and not treatment.heading_cue("Anatomy")
    duration = question_intent("How long does sciatica usually last?")
    assert duration.sentence_cue("Sciatica caused by a disc herniation often improves over weeks to months.")
    assert duration.sentence_cue("Pain usually settles within 6 weeks.")
    assert not duration.sentence_cue("Sciatica is pain that spreads down the leg below the knee.")


@pytest.mark.parametrize("question, passage, expected", [
    ("How is acute low back pain treated?", "Chronic low back pain: exercise therapy helps.", True),
    ("How is acute low back pain treated?", "Acute and chronic low back pain differ.", False),
    ("How is acute low back pain treated?", "Heat helps low back pain.", False),
    ("Sciatica in children", "In adults, sciatica usually settles.", True),
    ("Sciatica in children and adults", "In adults, sciatica usually settles.", False),
    # young athletes are not the older, osteoporotic patients of insufficiency fractures
    ("What causes a sacral stress fracture in a runner?", "Osteoporotic fractures of the sacrum in older patients.",
     True),
    ("What causes a sacral stress fracture in a runner?", "Fatigue fractures occur in runners and recruits.", False),
    ("What causes a sacral stress fracture in a runner?", "Older runners with osteoporosis are at risk.", False),
])
def test_passages_about_the_other_phase_or_population_conflict(question, passage, expected):
    assert conflicting(question, passage) is expected


LEANING = ("Doctors examined the slump test in 120 adults with leg pain. In that study, the slump test had a "
           "sensitivity of 0.84 and a specificity of 0.83.")


def retriever():
    return MemoryRetriever([
        make_document("slump", "The slump test", [
            ("Diagnosis", "Harris and colleagues studied the slump test in adults with sciatica. "
             "The slump test had a sensitivity of 0.84 and a specificity of 0.83 against imaging."),
            ("Accuracy", LEANING),
            ("Technique", "However, the test is uncomfortable for some patients with acute sciatica pain."),
        ]),
    ])


def candidates_for(question: str, index):
    from service.retrieve import retrieve

    return build_candidates(retrieve(question, index, k=10), index, 5)


def test_candidates_carry_one_feature_row_each_and_the_back_reference_flags():
    cands = candidates_for("How accurate is the slump test?", retriever())
    assert cands.features.shape == (len(cands.items), len(FEATURES))
    by_text = {s.text: s for s in cands.items}
    assert by_text["In that study, the slump test had a sensitivity of 0.84 and a specificity of 0.83."].back_reference
    assert by_text["Harris and colleagues studied the slump test in adults with sciatica."].setup
    first = by_text["Harris and colleagues studied the slump test in adults with sciatica."]
    assert not first.back_reference and first.antecedent_start is None


def test_a_leaning_sentence_is_quoted_with_its_antecedent_and_a_setup_never_alone():
    cands = candidates_for("How accurate is the slump test?", retriever())
    spans = dict(zip((s.text for s in cands.items), quotable_spans(cands)))
    assert spans["In that study, the slump test had a sensitivity of 0.84 and a specificity of 0.83."].text == LEANING
    assert spans["Harris and colleagues studied the slump test in adults with sciatica."] is None
    # first sentence of its chunk: the sentence it leans on is not there to bring along
    assert spans["However, the test is uncomfortable for some patients with acute sciatica pain."] is None


def test_no_summary_or_point_starts_with_a_back_reference():
    from service.candidates import _BACK_REFERENCE

    cands = candidates_for("How accurate is the slump test?", retriever())
    selection = select(score(cands), min_evidence=-1.0, min_coverage=0.0, point_threshold=0.0)
    texts = [selection.summary.text] + [p.text for p in selection.points]
    assert texts and not any(_BACK_REFERENCE.match(t) for t in texts)
    setups = ("Doctors examined the slump test in 120 adults with leg pain.",
              "Harris and colleagues studied the slump test in adults with sciatica.")
    assert not set(texts) & set(setups)  # a set-up only together with its result


def test_scorer_refuses_a_model_fitted_on_other_features():
    data = json.loads(json.dumps({"features": ["cosine"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0,
                                  "thresholds": {"point": 0.5}}))
    with pytest.raises(ScorerMismatch):
        scorer_from_dict(data)


def test_scorer_is_a_logistic_model_over_standardised_features():
    n = len(FEATURES)
    scorer = scorer_from_dict({"features": list(FEATURES), "mean": [1.0] * n, "scale": [2.0] * n,
                               "coef": [1.0] + [0.0] * (n - 1), "intercept": 0.0, "thresholds": {"point": 0.5}})
    x = np.ones((2, n), dtype=np.float32)
    x[1, 0] = 3.0  # (3 - 1) / 2 = 1 standard unit: sigmoid(1)
    assert np.allclose(scorer.probabilities(x), [0.5, 1 / (1 + np.exp(-1.0))])


def test_shipped_scorer_records_its_data_scores_and_refit_command():
    from importlib import resources

    data = json.loads(resources.files("service").joinpath("models", "sentence_scorer.json").read_text())
    assert data["features"] == list(FEATURES)
    assert data["command"].startswith("python -m eval.fit_scorer")
    assert all("heldout" in s for s in data["scores"].values())
    assert 0.0 < default_scorer().thresholds["point"] < 1.0


def test_empty_candidates_abstain():
    index = retriever()
    empty = Retrieval("What is the capital of France?", index.query_vector("x"), ())
    cands = build_candidates(empty, index, 5)
    assert len(cands.items) == 0 and select(score(cands)).abstained
