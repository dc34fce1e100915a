"""Selection rules added with the tree scorer: a hand-made tree, misspelt question terms, quoting only from
documents that cover the question, the point cut relative to the summary, and no sentence quoted twice."""
from __future__ import annotations

import numpy as np
import pytest

from service.candidates import FEATURES
from service.scoring import TreeScorer, scorer_from_dict, score
from service.select import select
from service.text import content_terms, stem, variant_of
from tests.answer_helpers import MemoryRetriever, make_document


def tree_file(trees: list[dict], baseline: float = 0.0) -> dict:
    depth = 2
    return {"kind": "trees", "features": list(FEATURES), "baseline": baseline, "depth": depth, "trees": trees,
            "thresholds": {"point": 0.5, "point_share": 0.0}}


def test_trees_walk_to_their_leaves_and_add_log_odds():
    cos = FEATURES.index("cosine")
    key = FEATURES.index("key_terms")
    # tree 1: cosine <= 0.5 -> -1, else (key_terms <= 0.2 -> 0.5, else 2); tree 2: a single leaf of 0.25
    tree = {"feature": [cos, 0, key, 0, 0], "threshold": [0.5, 0, 0.2, 0, 0], "left": [1, -1, 3, -1, -1],
            "right": [2, -1, 4, -1, -1], "value": [0, -1.0, 0, 0.5, 2.0]}
    stump = {"feature": [0], "threshold": [0], "left": [-1], "right": [-1], "value": [0.25]}
    scorer = scorer_from_dict(tree_file([tree, stump], baseline=-0.25))
    assert isinstance(scorer, TreeScorer)
    x = np.zeros((4, len(FEATURES)), dtype=np.float32)
    x[:, cos] = [0.2, 0.5, 0.9, 0.9]
    x[:, key] = [0.9, 0.9, 0.1, 0.8]
    z = np.array([-1.0, -1.0, 0.5, 2.0])  # baseline -0.25 and the stump's +0.25 cancel
    np.testing.assert_allclose(scorer.probabilities(x), 1 / (1 + np.exp(-z)), rtol=1e-6)


@pytest.mark.parametrize("term, expected", [
    ("covid19", True),          # "COVID-19" run together
    ("ofwater", True),          # a missing space after a stopword
    ("carageenan", True),       # one letter dropped (10 letters)
    ("immunoglobin", True),     # two letters dropped (12 letters: two edits allowed)
    ("restrospective", True),
    ("coccyx", False),          # a real word the passages do not hold
    ("ilium", False),           # 5 letters: "ileum" is one edit away but another bone
    ("neckpain", False),        # "neck" is not in the passages
    ("carrageenanxyz", False),  # three edits
])
def test_a_term_absent_from_the_index_counts_when_the_passages_spell_it_otherwise(term, expected):
    seen = content_terms("COVID-19 spreads near water on farms; carrageenan and immunoglobulin sprays; a "
                         "retrospective study of the ileum and back pain")
    assert variant_of(stem(term), seen) is expected


def two_topic_corpus():
    return [
        make_document("dbe", "Double balloon enteroscopy in the community", [
            ("Conclusion", "Double balloon enteroscopy is safe and effective in a community hospital setting. "
             "Complications of double balloon enteroscopy in the community were rare."),
        ]),
        make_document("tavi", "Balloon predilatation before valve implantation", [
            ("Results", "Valve implantation without balloon predilatation was safe and effective. "
             "Balloon predilatation added no benefit to valve implantation."),
        ]),
    ]


def test_points_come_only_from_documents_that_cover_the_question():
    index = MemoryRetriever(two_topic_corpus())
    from service.candidates import build_candidates
    from service.retrieve import retrieve

    cands = build_candidates(retrieve("Is double balloon enteroscopy safe in the community?", index, k=10),
                             index, 5)
    both = {index.docs[d].meta.title for d in {cands.retrieval.hits[s.hit].document.doc_id for s in cands.items}}
    assert len(both) == 2  # the valve trial is a candidate: it shares "balloon", "safe" and "effective"
    selection = select(score(cands), min_evidence=-1.0, point_threshold=0.0, point_share=0.0)
    quoted = [selection.summary] + list(selection.points)
    assert {p.hit.document.doc_id for p in quoted} == {"dbe"}
    assert len(selection.points) == 1


def test_points_need_the_share_of_the_summary_probability():
    index = MemoryRetriever(two_topic_corpus())
    from service.candidates import build_candidates
    from service.retrieve import retrieve

    scored = score(build_candidates(retrieve("Is double balloon enteroscopy safe in the community?", index, k=10),
                                    index, 5))
    loose = select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=0.0)
    summary_p, point_p = loose.summary.score, loose.points[0].score
    just_above = point_p / summary_p - 1e-3
    assert len(select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=just_above).points) == 1
    assert select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=just_above + 2e-3).points == ()


def test_a_sentence_in_the_summary_is_not_quoted_again_inside_a_point_from_another_document():
    definition = "Sciatica is pain that runs along the sciatic nerve from the buttock down the leg."
    index = MemoryRetriever([
        make_document("a", "Sciatica", [("What is sciatica?", f"{definition} It is usually caused by a "
                                         "herniated disc pressing on a nerve root. Most episodes of sciatica settle within six weeks.")]),
        make_document("b", "Piriformis syndrome", [("Overview", f"Piriformis syndrome irritates the sciatic "
                                                    f"nerve. {definition}")]),
    ])
    from service.candidates import build_candidates
    from service.retrieve import retrieve

    scored = score(build_candidates(retrieve("What is sciatica?", index, k=10), index, 5))
    selection = select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=0.0)
    texts = [selection.summary.text] + [p.text for p in selection.points]
    assert sum(t.count(definition) for t in texts) == 1 and len(texts) >= 2


def test_the_share_binds_sentences_of_the_summary_document_and_other_documents_need_the_boundary_only():
    index = MemoryRetriever([
        make_document("a", "Sciatica", [("What is sciatica?", "Sciatica is pain along the sciatic nerve down the "
                                         "leg. Sciatica is usually caused by a herniated lumbar disc. Sciatica "
                                         "often settles within six weeks.")]),
        make_document("b", "Sciatica in primary care", [("Overview", "Sciatica is leg pain from an irritated "
                                                         "sciatic nerve root. Sciatica affects many adults.")]),
    ])
    from service.candidates import build_candidates
    from service.retrieve import retrieve

    scored = score(build_candidates(retrieve("What is sciatica?", index, k=10), index, 5))
    # each document's later sentences are far from the question in meaning, so none is as much on point as a
    # summary (which would put it under the boundary alone)
    first = {"Sciatica is pain along the sciatic nerve down the leg.",
             "Sciatica is leg pain from an irritated sciatic nerve root."}
    scored = with_cosines(scored, {item.text: 0.9 if item.text in first else 0.3 for item in scored.candidates.items})
    loose = select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=0.0)
    summary_doc = loose.summary.hit.document.doc_id
    assert {p.hit.document.doc_id for p in loose.points} == {"a", "b"}
    strict = select(scored, min_evidence=-1.0, point_threshold=0.0, point_share=100.0)
    assert strict.points and all(p.hit.document.doc_id != summary_doc for p in strict.points)


@pytest.mark.parametrize("sentence, setup", [
    ("Majlesi and colleagues (2008) compared the slump test with the straight leg raise in a small study.", True),
    ("Harris and colleagues studied the slump test in adults with sciatica.", True),
    ("Friedly and colleagues (2014) randomised patients with spinal stenosis to glucocorticoid or lidocaine.", True),
    ("Schwarzer and colleagues (1995) estimated that the joint was the source in at least 13%.", False),
])
def test_a_study_set_up_is_recognised_with_or_without_the_year(sentence, setup):
    from service.candidates import _SETUP

    assert bool(_SETUP.search(sentence)) is setup


def test_warming_profiles_every_chunk_leaves_a_question_nothing_to_profile():
    from service.candidates import build_candidates, chunk_profile, warm_profiles
    from service.retrieve import retrieve

    index = MemoryRetriever(two_topic_corpus())
    chunk_profile.cache_clear()
    assert warm_profiles(index, ["dbe", "tavi"], batch=1) == 2
    assert chunk_profile.cache_info().currsize == 2
    before = chunk_profile.cache_info()
    build_candidates(retrieve("Is double balloon enteroscopy safe in the community?", index, k=10), index, 5)
    after = chunk_profile.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 2


@pytest.mark.parametrize("sentence, absent", [
    ("The Human Phenotype Ontology provides the following list of signs and symptoms for Norrie disease.", True),
    ("If the information is available, the table below includes how often each symptom is seen.", True),
    ("The steps are as follows.", True),
    ("Buttock conditions are managed with exercise as well as the general principles below (Goom 2016).", True),
    ("Most patients in the trial met the criteria above.", True),
    ("Facet joint pain rarely spreads below the knee.", False),  # anatomy, not a pointer
    ("The following factors raise the risk: smoking, obesity and older age.", False),  # the list is quoted too
    ("Most patients could walk unaided the following week after the operation.", False),  # "the next week"
    ("Norrie disease is caused by mutations in the NDP gene.", False),
])
def test_a_sentence_announcing_text_it_does_not_hold_is_not_quotable(sentence, absent):
    from service.text import announces_absent_text, is_boilerplate

    assert announces_absent_text(sentence) is absent
    assert is_boilerplate(sentence) is absent


@pytest.mark.parametrize("sentence, leans", [
    # an opening demonstrative leans back, unless it names the bulleted list after its own colon
    ("These resources address the diagnosis or management of Norrie disease: - Gene Review - MedlinePlus", False),
    ("These include: fever, cough and aching muscles.", True),  # a bare pronoun: what do "these" belong to?
    ("These tend to fall into four groups of use: (i) vaccines; (ii) display; (iii) tracing.", True),
    ("This audit measured analgesia against 4 standards: (1) speed, (2) safety and (3) comfort.", True),
    ("These patients were excluded from the analysis.", True),
    ("This trial found no benefit of surgery over physiotherapy.", True),
    ("However, pain returned in a third of patients.", True),
    # inside the sentence: a connective after the subject continues the sentence before
    ("Clinicians therefore interpret a positive test by the symptoms it reproduces.", True),
    ("At one year, however, rates of recovery were similar in both groups.", True),
    ("Radiographic findings do not always match symptoms, however.", True),  # a closing connective
    # a consequence drawn anywhere in the sentence is drawn from the sentence before
    ("The choice between surgery and conservative care for most people is therefore a matter of preference.", True),
    ("Most sciatica settles within weeks, and therefore surgery is rarely needed.", False),  # its own reason
    # a named study's further finding leans on the finding stated before it
    ("Laslett and colleagues also reported that negative tests ruled the joint out.", True),
    ("Smith et al. (2019) also found fewer relapses after surgery.", True),
    ("Laslett and colleagues reported that negative tests ruled the joint out.", False),
    ("Hip osteoarthritis also causes buttock pain.", False),  # "also" alone adds, it does not point back
    # a summing-up points at what it sums up, unless it names it
    ("Taken together, the two trials suggest that surgery speeds recovery.", True),
    ("Collectively, these findings indicate a viral cause.", True),
    ("Taken together, SPORT and the Peul trial suggest that surgery speeds recovery.", False),
    ("Together with exercise, advice to stay active speeds recovery.", False),
    # "they" with no plural before it has nothing in the sentence to stand for
    ('By "buttock" they usually mean the fleshy region below the iliac crest.', True),
    ("Patients with sciatica say they feel better within weeks.", False),
    ("Most women recover, although their pain may return.", False),
    ("Deep gluteal syndrome is buttock pain caused by trapping of the sciatic nerve.", False),
    # a direction or a preposition whose object is a pronoun points at the sentence before
    ("In the other direction, a lumbar cause of buttock pain may persist after hip replacement.", True),
    ("Despite this, most patients recover without surgery.", True),
    ("Compared with these, the slump test was more sensitive.", True),
    ("In turn, the inflamed nerve root becomes more sensitive.", True),
    ("Despite treatment, a third of patients still had pain at one year.", False),
    ("Following surgery, most patients returned to work within three months.", False),
    ("Given that most sciatica settles, surgery is kept for persistent or severe cases.", False),
])
def test_which_sentences_lean_back(sentence, leans):
    from service.candidates import leans_back

    assert leans_back(sentence) is leans


@pytest.mark.parametrize("question, kind, items", [
    ("What are the treatments for Norrie disease?", "list", "treatment"),
    ("What are the options for managing sciatica?", "list", "treatment"),
    ("What are the causes of buttock pain?", "list", "cause"),
    ("What are the symptoms of influenza?", "list", "symptom"),
    ("What are the signs and symptoms of Norrie disease?", "list", "symptom"),
    ("How does piriformis syndrome present?", "symptom", ""),
    ("Where is pain from the hip joint felt?", "symptom", ""),
    ("What does sacroiliac joint pain feel like?", "symptom", ""),
    ("Do the symptoms of depression predict relapse?", "yes/no", ""),  # asked for a yes or a no
    ("How can the symptoms of sciatica be relieved?", "treatment", ""),
    ("Do the symptoms of sciatica go away?", "prognosis", ""),
    ("What are the genetic changes related to Norrie disease?", "cause", ""),
    ("Which genes are linked to autism?", "cause", ""),
    ("What is Norrie disease?", "definition", ""),
])
def test_a_list_question_carries_the_kind_of_its_items(question, kind, items):
    from service.intent import question_intent

    intent = question_intent(question)
    assert (intent.kind, intent.items) == (kind, items)


def test_a_list_of_treatments_counts_treatment_sentences_and_headings_as_answers():
    from service.intent import question_intent

    intent = question_intent("What are the treatments for Norrie disease?")
    assert intent.sentence_cue("Surgery can slow retinal detachment in some infants.")
    assert intent.heading_cue("Management")
    assert not intent.sentence_cue("Norrie disease affects the retina.")
    assert not question_intent("What are the symptoms of Norrie disease?").heading_cue("Management")


def test_the_document_search_ranked_first_is_cited_even_below_the_point_cut():
    from service.candidates import build_candidates
    from service.retrieve import retrieve
    from service.scoring import Scored

    index = MemoryRetriever([
        make_document("gene", "Norrie disease genetics", [("Genetics", "Norrie disease in children is caused by "
                                                           "mutations in the NDP gene on the X chromosome.")]),
        make_document("care", "Norrie disease care", [("Care", "Early special education helps children with "
                                                       "Norrie disease who are blind or deaf.")]),
    ])
    cands = build_candidates(retrieve("What is known about Norrie disease in children?", index, k=10), index, 5)
    top = cands.retrieval.hits[0].document.doc_id
    other = ({"gene", "care"} - {top}).pop()
    # the scorer prefers the other document's sentence; the top document's is under the point cut (0.5)
    prob = np.array([0.9 if cands.retrieval.hits[s.hit].document.doc_id == other else 0.3 for s in cands.items])
    selection = select(Scored(cands, prob), min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5,
                       point_share=0.0)
    assert selection.summary.hit.document.doc_id == other
    assert [p.hit.document.doc_id for p in selection.points] == [top]
    # below the floor it is not quoted: the scorer all but rules it out
    prob[prob == 0.3] = 0.1
    selection = select(Scored(cands, prob), min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5,
                       point_share=0.0)
    assert selection.points == ()


def preference_case(question: str, sentences: dict[str, float]):
    """Scored candidates of one document holding `sentences`, with the given probabilities."""
    from service.candidates import build_candidates
    from service.retrieve import retrieve
    from service.scoring import Scored

    index = MemoryRetriever([make_document("a", "Buttock pain", [("Overview", " ".join(sentences))])])
    cands = build_candidates(retrieve(question, index, k=10), index, 5)
    return Scored(cands, np.array([sentences[s.text] for s in cands.items]))


def with_cosines(scored, cosines: dict[str, float]):
    """The scored candidates with their sentences' cosines to the question set as given."""
    column = FEATURES.index("cosine")
    for row, item in enumerate(scored.candidates.items):
        scored.candidates.features[row, column] = cosines[item.text]
    return scored


def summary_text(question: str, sentences: dict[str, float], share: float = 0.86,
                 cosines: dict[str, float] | None = None) -> str:
    """The summary select() makes of one document's `sentences` (with their probabilities, and their cosines to
    the question when given) for `question`."""
    scored = preference_case(question, sentences)
    selection = select(with_cosines(scored, cosines) if cosines else scored, min_evidence=-1.0, min_coverage=0.0,
                       point_threshold=0.5, point_share=share)
    return selection.summary.text


COMPARISON = {
    "The distinction matters because the likely sources of pain change as pain moves towards the buttock.": 0.9,
    "Lower back pain above the buttocks is one of the most common kinds of low back pain.": 0.6,
}


@pytest.mark.parametrize("share, summary", [
    (0.0, "Lower back pain above the buttocks is one of the most common kinds of low back pain."),  # names both
    (0.6, "Lower back pain above the buttocks is one of the most common kinds of low back pain."),  # 0.6 >= 0.54
    (0.7, "The distinction matters because the likely sources of pain change as pain moves towards the buttock."),
])
def test_a_sentence_naming_both_sides_is_preferred_only_when_close_to_the_most_probable(share, summary):
    # the sentence naming both sides is not closer in meaning: that would be a reason of its own to prefer it
    scored = with_cosines(preference_case("How does buttock pain differ from low back pain?", COMPARISON),
                          dict(zip(COMPARISON, (0.6, 0.5))))
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=share)
    assert selection.summary.text == summary


def test_a_list_question_is_summarised_by_the_source_s_own_enumerating_sentence():
    scored = preference_case("What are the causes of buttock pain?", {
        "Hip osteoarthritis often causes buttock pain as well as groin pain.": 0.88,
        "The lumbar discs, the facet joints, the sacroiliac joints and the hip joint can all refer pain into the "
        "buttock.": 0.85,
        "Buttock pain is common in adults who sit for long periods at work.": 0.3,
    })
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.8)
    assert selection.summary.text.startswith("The lumbar discs, the facet joints")
    assert [p.text for p in selection.points] == ["Hip osteoarthritis often causes buttock pain as well as groin pain."]


@pytest.mark.parametrize("question, sides", [
    ("What is the difference between buttock pain and low back pain?", ({"buttock"}, {"low", "back"})),
    ("How does buttock pain differ from low back pain?", ({"buttock"}, {"low", "back"})),
    ("Is radicular pain different from referred pain?", ({"radicular"}, {"referr"})),
    ("Slump test versus straight leg raise?", ({"slump", "test"}, {"straight", "leg", "rais"})),
    ("How do you tell hip osteoarthritis from lumbar spine pain?", ({"hip", "osteoarthritis"}, {"lumbar", "spin", "pain"})),
    ("How can ischiogluteal bursitis be told apart from hamstring tendinopathy?",
     ({"ischiogluteal", "bursitis"}, {"hamstr", "tendinopathy"})),
])
def test_the_two_sides_of_a_comparison_are_read_from_its_usual_phrasings(question, sides):
    from service.intent import question_intent
    from service.text import compared_terms

    assert question_intent(question).kind == "comparison"
    assert compared_terms(question) == tuple(frozenset(s) for s in sides)


def test_a_definition_of_the_asked_term_is_the_summary_even_well_below_the_most_probable_sentence():
    scored = preference_case("What is deep gluteal syndrome?", {
        "Piriformis syndrome is the best-known form of deep gluteal syndrome.": 0.95,
        "Deep gluteal syndrome is buttock pain caused by trapping of the sciatic nerve.": 0.6,
    })
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text == "Deep gluteal syndrome is buttock pain caused by trapping of the sciatic nerve."


DURATION = {
    "About 39% of patients with a disc herniation eventually had surgery.": 0.75,
    "Sciatica from a disc herniation often improves over weeks to months without surgery.": 0.70,
}


@pytest.mark.parametrize("question, share, summary", [
    # asked openly: the close sentence naming the question's key terms (0.70 >= 0.86 x 0.75)
    ("What is the natural history of sciatica from a disc herniation?", 0.86,
     "Sciatica from a disc herniation often improves over weeks to months without surgery."),
    # not close enough: 0.70 < 0.95 x 0.75
    ("What is the natural history of sciatica from a disc herniation?", 0.95,
     "About 39% of patients with a disc herniation eventually had surgery."),
    # asked for a yes or a no: the most probable
    ("Does sciatica from a disc herniation last long?", 0.86,
     "About 39% of patients with a disc herniation eventually had surgery."),
])
def test_an_open_question_s_summary_names_what_it_asks_about_among_close_sentences(question, share, summary):
    # the sentence naming the key terms is not closer in meaning: that would be a reason of its own to prefer it
    assert summary_text(question, DURATION, share, cosines=dict(zip(DURATION, (0.6, 0.5)))) == summary


@pytest.mark.parametrize("question, is_open", [
    ("How long does sciatica last?", True),
    ("Who gets sacral insufficiency fractures?", True),
    ("What is the mortality rate of severe ARDS?", True),
    ("Does acupuncture help low back pain?", False),
    ("Is the Distance Worth It?", False),
    ("Sacroiliac joint pain in pregnancy", False),
])
def test_a_question_asked_with_a_wh_word_is_open(question, is_open):
    from service.intent import question_intent

    assert question_intent(question).open is is_open


ACCURACY = {
    "The thigh thrust test pushes the bent thigh backwards to shear the sacroiliac joint.": 0.9,
    "Two or more positive sacroiliac provocation tests had a sensitivity of 0.88 and a specificity of 0.78.": 0.3,
}


@pytest.mark.parametrize("question, summary", [
    # asked openly for a test's accuracy: the sentence reporting its figures, however less probable
    ("How accurate are sacroiliac provocation tests?",
     "Two or more positive sacroiliac provocation tests had a sensitivity of 0.88 and a specificity of 0.78."),
    ("What is the sensitivity of sacroiliac provocation tests?",
     "Two or more positive sacroiliac provocation tests had a sensitivity of 0.88 and a specificity of 0.78."),
    # asked for a yes or a no: the most probable
    ("Are sacroiliac provocation tests accurate?",
     "The thigh thrust test pushes the bent thigh backwards to shear the sacroiliac joint."),
])
def test_an_accuracy_question_is_summarised_by_the_sentence_reporting_accuracy_figures(question, summary):
    assert summary_text(question, ACCURACY) == summary


CHAIN = ["Laslett and colleagues compared provocation tests with sacroiliac joint blocks.",
         "In that study, two or more positive tests had a sensitivity of 0.88 and a specificity of 0.78.",
         "Laslett and colleagues also reported that six positive tests were no more accurate than two."]


@pytest.mark.parametrize("sentences, quotable", [
    # a further finding leans on the result, which leans on the set-up: quoted as one span of the three
    (CHAIN, [None, " ".join(CHAIN[:2]), " ".join(CHAIN)]),
    # one more leaning sentence makes a chain of four: not quoted
    (CHAIN + ["They also found that distraction was the most specific test."],
     [None, " ".join(CHAIN[:2]), " ".join(CHAIN), None]),
])
def test_a_sentence_is_quoted_with_the_two_sentences_it_leans_on_at_most(sentences, quotable):
    from service.select import quotable_spans

    scored = preference_case("How accurate are sacroiliac provocation tests?", {t: 0.5 for t in sentences})
    spans = quotable_spans(scored.candidates)
    assert [s.text if s else None for s in spans] == quotable


EFFECT = {
    "Exercise is recommended for long-lasting low back pain.": 0.95,
    "For recent-onset low back pain, guidelines recommend heat, massage, acupuncture or spinal manipulation.": 0.6,
    "Acupuncture needles are placed along the lower back.": 0.4,
}


@pytest.mark.parametrize("question, summary", [
    # the most probable sentence does not name what the question asks about: the one that does (0.6 >= 0.5)
    ("Does acupuncture help low back pain?",
     "For recent-onset low back pain, guidelines recommend heat, massage, acupuncture or spinal manipulation."),
    ("Is spinal manipulation recommended for low back pain?",
     "For recent-onset low back pain, guidelines recommend heat, massage, acupuncture or spinal manipulation."),
    # exercise is named by the most probable one
    ("Does exercise help low back pain?", "Exercise is recommended for long-lasting low back pain."),
    # not a question about an intervention's effect
    ("Do low back pain guidelines exist?", "Exercise is recommended for long-lasting low back pain."),
])
def test_a_question_about_an_intervention_s_effect_is_answered_by_a_sentence_naming_it(question, summary):
    assert summary_text(question, EFFECT) == summary


@pytest.mark.parametrize("question, abstained, uncovered", [
    # only a sentence the scorer all but rules out (0.3) names acupuncture: the sources do not speak to its effect
    ("Does acupuncture help low back pain?", True, ("acupuncture",)),
    ("Does acupuncture help low back pain?", False, ()),  # ... unless it reaches SUBJECT_NAMED_FLOOR (set below)
    ("Does walking help low back pain?", True, ("walking",)),
    ("Does exercise help low back pain?", False, ()),
    ("What helps low back pain?", False, ()),  # an open question has no intervention of its own
])
def test_a_question_about_an_intervention_no_likely_sentence_names_is_not_answered(question, abstained, uncovered):
    sentences = {s: p for s, p in EFFECT.items() if "guidelines recommend" not in s}
    sentences["Acupuncture needles are placed along the lower back."] = 0.3
    if not abstained and "acupuncture" in question:
        sentences["Acupuncture needles are placed along the lower back."] = 0.4
    scored = preference_case(question, sentences)
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.86)
    assert selection.abstained is abstained
    assert selection.uncovered == uncovered


def test_a_question_about_an_intervention_s_effect_gets_points_that_name_it():
    scored = preference_case("Does acupuncture help low back pain?", {
        "Guidelines recommend acupuncture for recent-onset low back pain.": 0.9,
        "Pregabalin was no better than placebo for low back pain in a randomised trial.": 0.85,
        "NICE advises against offering acupuncture for low back pain.": 0.8,
    })
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text == "Guidelines recommend acupuncture for recent-onset low back pain."
    assert [p.text for p in selection.points] == ["NICE advises against offering acupuncture for low back pain."]


@pytest.mark.parametrize("question, subject", [
    ("Does acupuncture help low back pain?", "acupuncture"),
    ("Is spinal manipulation recommended for acute low back pain?", "spinal manipulation"),
    ("Should an epidural steroid injection be offered for sciatica?", "an epidural steroid injection"),
    ("Are opioids effective for chronic low back pain?", "opioids"),
    # asked of the person who would use it
    ("Should I use heat or ice for buttock pain?", "heat or ice"),
    ("Can patients take ibuprofen for sciatica?", "ibuprofen"),
    ("Should I see a doctor?", ""),
    ("Is low back pain common?", ""),
    ("What helps low back pain?", ""),
])
def test_the_subject_of_a_question_about_an_intervention_s_effect(question, subject):
    from service.intent import question_intent

    assert question_intent(question).subject == subject


IMAGING = {
    "Because many patients have osteoporosis, imaging of the sacrum is followed by a bone density scan.": 0.83,
    "MRI is the most sensitive imaging test for a sacral stress fracture.": 0.59,
    "CT is the best test for planning sacroplasty.": 0.45,
}


@pytest.mark.parametrize("question, summary", [
    # asked for the top option: the sentence naming one as such, when it is more likely an answer than not
    ("What imaging is best for a suspected sacral stress fracture?",
     "MRI is the most sensitive imaging test for a sacral stress fracture."),
    ("Which imaging test is preferred for a sacral stress fracture?",
     "MRI is the most sensitive imaging test for a sacral stress fracture."),
    ("What imaging is recommended for a suspected sacral stress fracture?",
     "MRI is the most sensitive imaging test for a sacral stress fracture."),
    ("What imaging is used for a sacral stress fracture?",
     "Because many patients have osteoporosis, imaging of the sacrum is followed by a bone density scan."),
    # the plural asks for the options, not the top one
    ("What imaging tests are recommended for a suspected sacral stress fracture?",
     "Because many patients have osteoporosis, imaging of the sacrum is followed by a bone density scan."),
])
def test_a_question_for_the_top_option_is_summarised_by_a_sentence_naming_one(question, summary):
    # the MRI sentence is not closer in meaning than the most probable one: that would be a reason of its own
    assert summary_text(question, IMAGING, cosines=dict(zip(IMAGING, (0.6, 0.5, 0.4)))) == summary


POPULATION = {
    "Many patients with sacral insufficiency fractures cannot recall any injury.": 0.5,
    "Sacral insufficiency fractures occur mainly in older women with osteoporosis.": 0.25,
    "Sacral fractures also affect runners.": 0.45,  # names too few of the question's key terms
}


@pytest.mark.parametrize("question, summary", [
    ("Who gets sacral insufficiency fractures?",
     "Sacral insufficiency fractures occur mainly in older women with osteoporosis."),
    ("Who is at risk of sacral insufficiency fractures?",
     "Sacral insufficiency fractures occur mainly in older women with osteoporosis."),
    ("How do sacral insufficiency fractures present?",
     "Many patients with sacral insufficiency fractures cannot recall any injury."),
])
def test_a_who_gets_question_is_summarised_by_a_sentence_saying_whom_the_condition_affects(question, summary):
    assert summary_text(question, POPULATION) == summary


LIST_ARTICLE = {
    "The discs, the facet joints and the hip joint can all refer pain into the buttock.": 0.9,
    "Hip osteoarthritis often causes buttock pain as well as groin pain.": 0.6,
}


@pytest.mark.parametrize("question, points", [
    ("What are the causes of buttock pain?", ["Hip osteoarthritis often causes buttock pain as well as groin pain."]),
    ("Can the discs refer pain into the buttock?", []),  # one conclusion asked: 0.6 < 0.86 x 0.9
    ("Disc versus hip joint: which refers pain into the buttock?", []),  # a comparison wanting one verdict
    ("How does disc pain differ from hip joint pain in the buttock?",
     ["Hip osteoarthritis often causes buttock pain as well as groin pain."]),  # an open comparison
])
def test_the_share_binds_one_conclusion_answers_but_not_lists_of_several_statements(question, points):
    selection = select(preference_case(question, LIST_ARTICLE), min_evidence=-1.0, min_coverage=0.0,
                       point_threshold=0.5, point_share=0.86)
    assert selection.summary.text.startswith("The discs, the facet joints")
    assert [p.text for p in selection.points] == points


def scored_documents(question: str, documents: list[tuple[str, str, list[tuple[str, dict[str, float]]]]]):
    """Scored candidates of several documents: (doc id, title, [(heading, {sentence: probability})])."""
    from service.candidates import build_candidates
    from service.retrieve import retrieve
    from service.scoring import Scored

    probability = {s: p for _, _, sections in documents for _, sentences in sections for s, p in sentences.items()}
    index = MemoryRetriever([make_document(doc, title, [(heading, " ".join(sentences))
                                                        for heading, sentences in sections])
                             for doc, title, sections in documents])
    cands = build_candidates(retrieve(question, index, k=10), index, 5)
    return Scored(cands, np.array([probability[s.text] for s in cands.items]))


def test_a_point_from_another_document_comes_from_a_passage_about_the_asked_condition():
    # the fusion section shares "surgery" and "conservative care" with the question but not the herniated disc
    scored = scored_documents("Is surgery better than conservative care for a herniated disc?", [
        ("disc", "Herniated disc", [("Surgery", {
            "Surgery for a herniated disc gives faster relief than conservative care.": 0.9})]),
        ("invasive", "Invasive treatment", [
            ("Herniated disc", {"For a herniated disc, surgery and conservative care give similar results at "
                                "one year.": 0.8}),
            ("Fusion", {"Fusion gave better results than conservative care in one surgery trial.": 0.85}),
        ]),
    ])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.0)
    assert selection.summary.text.startswith("Surgery for a herniated disc")
    assert [p.text for p in selection.points] == [
        "For a herniated disc, surgery and conservative care give similar results at one year."]


@pytest.mark.parametrize("question, heading, other", [
    ("How is proximal hamstring tendinopathy treated?", "How is ischiogluteal bursitis diagnosed?", True),
    ("How is proximal hamstring tendinopathy treated?", "Which soft-tissue conditions cause buttock pain?", True),
    ("How is proximal hamstring tendinopathy treated?", "How is piriformis syndrome treated?", False),
    ("How is proximal hamstring tendinopathy treated?", "Diagnosis and management", False),  # treatment too
    ("How is proximal hamstring tendinopathy treated?", "Diagnosis", True),
    ("How is proximal hamstring tendinopathy treated?", "Overview", False),  # no kind of its own
    ("How is proximal hamstring tendinopathy treated?", "", False),
    ("What are the causes of buttock pain?", "Which spinal conditions cause buttock pain?", False),
    ("What are the causes of buttock pain?", "How is sacroiliac joint pain treated?", True),
    ("What are the red flags for back and buttock pain?", "When is surgery considered for a disc herniation?", True),
    ("What is deep gluteal syndrome?", "How is piriformis syndrome treated?", False),  # a definition: any section
    ("How common is sacroiliac joint pain?", "How is sacroiliac joint pain diagnosed?", False),  # a figure
    ("What are the symptoms of a sacral fracture?", "How are sacral stress fractures in athletes managed?", True),
    ("What are the symptoms of a sacral fracture?", "How are sacral insufficiency fractures diagnosed?", False),
    ("Where is pain from the hip joint felt?", "Can the hip joint cause buttock pain?", False),
    ("How is piriformis syndrome treated?", "What are the symptoms of piriformis syndrome?", True),
    ("How is piriformis syndrome diagnosed?", "What are the symptoms of piriformis syndrome?", False),
])
def test_a_section_about_another_kind_of_clinical_question_is_recognised(question, heading, other):
    from service.intent import question_intent

    assert question_intent(question).other_kind_of_section(heading) is other


def test_points_of_a_treatment_question_do_not_come_from_its_diagnosis_section():
    scored = scored_documents("How is proximal hamstring tendinopathy treated?", [
        ("pht", "Proximal hamstring tendinopathy", [
            ("How is proximal hamstring tendinopathy treated?", {
                "Proximal hamstring tendinopathy is treated with progressive tendon loading.": 0.9,
                "Corticosteroid injection for hamstring tendinopathy gives short-term relief only.": 0.6}),
            ("How is proximal hamstring tendinopathy diagnosed?", {
                "Proximal hamstring tendinopathy is diagnosed from pain on loading tests.": 0.8}),
        ]),
    ])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.0)
    assert selection.summary.text.startswith("Proximal hamstring tendinopathy is treated")
    assert [p.text for p in selection.points] == [
        "Corticosteroid injection for hamstring tendinopathy gives short-term relief only."]


def test_the_summary_of_a_symptom_question_does_not_come_from_the_section_on_treating_it():
    # "Return to running is gradual and guided by symptoms." had been the summary: symptoms, running
    scored = scored_documents("What are the symptoms of a sacral stress fracture in runners?", [
        ("sacral", "Sacral stress fractures", [
            ("How are sacral stress fractures in runners managed?", {
                "Return to running after a sacral stress fracture is gradual and guided by symptoms.": 0.9}),
            ("What are the symptoms of a sacral stress fracture?", {
                "In runners, a sacral stress fracture causes buttock pain that worsens with running.": 0.4}),
        ]),
    ])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.0)
    assert selection.summary.text == "In runners, a sacral stress fracture causes buttock pain that worsens with running."
    assert selection.points == ()


def test_a_symptom_question_reads_symptom_sentences_and_headings_as_answers():
    from service.intent import question_intent

    intent = question_intent("What are the symptoms of ischiogluteal bursitis?")
    assert intent.sentence_cue("Pain is typically worse when sitting and eased by standing.")
    assert intent.sentence_cue("Numbness or tingling in the leg is not typical.")
    assert not intent.sentence_cue("Ischiogluteal bursitis is inflammation of the bursa over the ischium.")
    assert intent.heading_cue("Signs and symptoms")
    assert intent.heading_cue("Clinical presentation")
    assert not intent.heading_cue("Management")


@pytest.mark.parametrize("restatement, quoted", [
    ("Schwarzer and colleagues estimated the sacroiliac joint was the source in 13% to 30% of those patients.",
     False),  # every term is in the summary
    ("Maigne and colleagues estimated the sacroiliac joint was the source in 18.5% of those patients.",
     True),  # another study and figure
])
def test_a_point_that_restates_an_earlier_pick_is_not_quoted(restatement, quoted):
    summary = ("Using diagnostic blocks, Schwarzer and colleagues (1995) estimated the sacroiliac joint was the "
               "source in 13% to 30% of patients with chronic low back pain.")
    scored = scored_documents("How common is sacroiliac joint pain in chronic low back pain?", [
        ("causes", "Causes of chronic low back pain", [("Sacroiliac joint", {summary: 0.9})]),
        ("si", "Sacroiliac joint pain in chronic low back pain", [("Prevalence", {restatement: 0.8})]),
    ])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.0)
    assert selection.summary.text == summary
    assert [p.text for p in selection.points] == ([restatement] if quoted else [])


@pytest.mark.parametrize("question, several", [
    ("How is sacroiliac joint pain diagnosed?", True),
    ("How should sciatica be managed?", True),
    ("How are hamstring tendon tears treated?", True),
    ("How accurate is the slump test?", False),  # one verdict: the accuracy
    ("Is surgery effective for sciatica?", False),
    ("Does radiofrequency denervation work for facet joint pain?", False),
])
def test_how_a_condition_is_diagnosed_or_treated_asks_for_several_statements(question, several):
    from service.intent import question_intent

    assert question_intent(question).several is several


@pytest.mark.parametrize("sentence, lists", [
    ("The lumbar discs, the facet joints, the sacroiliac joints and the hip joint can all refer pain into the "
     "buttock.", True),                                          # the items are the subject
    ("The nerves, tendons and bursae of the buttock can also produce pain there.", True),
    ("Sciatica is most often caused by disc herniation, spinal stenosis or a tumour.", True),  # after "by"
    ("Common causes include disc herniation, facet joint pain and hip disease.", True),        # "include"
    ("Infection can lead to development of a cough, rhinitis, fever and other symptoms.", True),  # after "of"
    ('Proximal hamstring tendinopathy causes deep pain at the ischial tuberosity, the "sitting bone", that is '
     "often made worse by sitting and by running.", False),      # commas around an apposition
    ("In most people with back pain that spreads into the buttock, no single structure can be reliably "
     "confirmed as the source, and the pain is classed as non-specific low back pain.", False),  # clauses
])
def test_an_enumerating_sentence_names_its_items_as_subject_or_after_by(sentence, lists):
    from service.intent import question_intent

    assert question_intent("What are the causes of buttock pain?").enumerates(sentence) is lists


def test_a_list_question_is_not_summarised_by_a_sentence_whose_commas_set_off_an_apposition():
    scored = preference_case("What are the causes of buttock pain?", {
        'Hamstring tendinopathy causes deep pain at the ischial tuberosity, the "sitting bone", that is often made '
        "worse by sitting and by running.": 0.9,
        "The lumbar discs, the facet joints, the sacroiliac joints and the hip joint can all refer pain into the "
        "buttock.": 0.8,
    })
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.8)
    assert selection.summary.text.startswith("The lumbar discs, the facet joints")



def test_the_summary_comes_from_the_section_headed_by_the_question_itself():
    # "How is hip osteoarthritis diagnosed?" had been answered by a classification-criteria sentence of another
    # section, over the NICE sentence heading its own section
    sections = [
        ("Classification criteria for research", {
            "Classification criteria for hip osteoarthritis combine hip pain with radiographic findings.": 0.9}),
        ("How is hip osteoarthritis diagnosed?", {
            "Hip osteoarthritis is diagnosed clinically, without imaging, in people aged 45 or over.": 0.6,
            "Hip osteoarthritis imaging shows joint space narrowing.": 0.4}),
    ]
    scored = scored_documents("How is hip osteoarthritis diagnosed?", [("hip", "Hip osteoarthritis", sections)])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text.startswith("Hip osteoarthritis is diagnosed clinically")
    assert [p.text for p in selection.points] == [
        "Classification criteria for hip osteoarthritis combine hip pain with radiographic findings."]


@pytest.mark.parametrize("question, probability, summary", [
    # below the point boundary the heading's section does not decide
    ("How is hip osteoarthritis diagnosed?", 0.45, "Classification criteria"),
    # a heading asking another kind of question about the same condition is not the question's own
    ("How common is hip osteoarthritis?", 0.6, "Classification criteria"),
    # nor one naming too little of the asked topic
    ("How is hip pain after a fall diagnosed?", 0.6, "Classification criteria"),
])
def test_a_section_headed_by_another_question_or_below_the_boundary_does_not_decide(question, probability, summary):
    sections = [
        ("Classification criteria for research", {
            "Classification criteria for hip osteoarthritis combine hip pain with diagnosed radiographic "
            "findings and treated cases.": 0.9}),
        ("How is hip osteoarthritis diagnosed?", {
            "Hip osteoarthritis is diagnosed clinically, without imaging, in people aged 45 or over.": probability}),
    ]
    scored = scored_documents(question, [("hip", "Hip osteoarthritis", sections)])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text.startswith(summary)


ADVICE = {
    "A review described the overuse of imaging, opioids and surgery for low back pain.": 0.9,
    "For hip osteoarthritis, NICE advises against weak opioids unless used for short periods.": 0.75,
    "NICE advises against opioids for chronic low back pain.": 0.6,
    "Guidelines recommend opioids rarely, a survey of low back pain found.": 0.4,
}


@pytest.mark.parametrize("question, summary", [
    # asked what is advised: the advice on opioids that names most of the question, not a finding naming them
    ("Are opioids recommended for low back pain?", "NICE advises against opioids for chronic low back pain."),
    ("Should opioids be prescribed for low back pain?", "NICE advises against opioids for chronic low back pain."),
    # asked whether they work: the subject rule alone (the most probable sentence names opioids)
    ("Do opioids help low back pain?",
     "A review described the overuse of imaging, opioids and surgery for low back pain."),
])
def test_a_question_about_what_is_advised_is_answered_by_advice_on_the_intervention(question, summary):
    assert summary_text(question, ADVICE) == summary


@pytest.mark.parametrize("question, advice", [
    ("Are opioids recommended for low back pain?", True),
    ("Is spinal manipulation advised for acute low back pain?", True),
    ("Should imaging be done for low back pain without red flags?", True),
    ("Does acupuncture help low back pain?", False),
    ("Are opioids effective for chronic low back pain?", False),
    ("What is recommended for low back pain?", False),  # open: the other rules answer it
])
def test_a_question_about_what_sources_advise_is_recognised(question, advice):
    from service.intent import question_intent

    assert question_intent(question).advice is advice


@pytest.mark.parametrize("sentence, is_definition", [
    ("Cluneal nerve entrapment is trapping of the superior cluneal nerves at the iliac crest.", True),
    ("Cluneal nerve entrapment is defined as pain from a trapped cluneal nerve.", True),
    ("Cluneal nerve entrapment is characterised by pain along the iliac crest.", True),
    # the term is the subject of a subordinate clause, or of a passive: what is done with it, not what it is
    ("When cluneal nerve entrapment is suspected, a nerve block can help confirm it.", False),
    ("If cluneal nerve entrapment is treated early, symptoms settle.", False),
    ("Cluneal nerve entrapment is usually diagnosed with a nerve block.", False),
    # ... or of a prepositional phrase, with another subject
    ("In chronic cluneal nerve entrapment, both nerves are tender to touch.", False),
    # saying what the term is used for defines it, wherever the sentence's subject is
    ("Maigne (1989) introduced the term cluneal nerve entrapment for pain from the trapped nerves.", True),
    ("The term cluneal nerve entrapment is used for pain from the trapped nerves.", True),
    ("The term gluteal pain is used for pain from the trapped nerves.", False),  # another term
])
def test_a_definition_opens_with_the_term_as_its_subject(sentence, is_definition):
    from service.text import defines

    assert defines(sentence, content_terms("cluneal nerve entrapment")) is is_definition


@pytest.mark.parametrize("lead_probability, summary", [
    (0.73, "Hip osteoarthritis is diagnosed clinically"),  # 0.73 >= 0.8 x 0.9: the section's opening answers
    (0.71, "Hip osteoarthritis imaging criteria"),  # 0.71 < 0.72: the section's most probable span
])
def test_the_section_headed_by_the_question_is_summarised_by_its_opening_when_close_to_its_best(lead_probability,
                                                                                               summary):
    sections = [("How is hip osteoarthritis diagnosed?", {
        "Hip osteoarthritis is diagnosed clinically, without imaging, in people aged 45 or over.": lead_probability,
        "Hip osteoarthritis imaging criteria combine joint space narrowing with osteophytes.": 0.9})]
    scored = scored_documents("How is hip osteoarthritis diagnosed?", [("hip", "Hip osteoarthritis", sections)])
    selection = select(scored, min_evidence=-1.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text.startswith(summary)


def test_points_of_the_summary_document_must_come_close_to_its_best_span_not_to_a_preferred_summary():
    # the advice rule takes a 0.6 summary over the document's 0.9 span: a point of the document needs
    # 0.86 x 0.9, so the 0.75 sentence is not one (against 0.86 x 0.6 it was)
    selection = select(preference_case("Are opioids recommended for low back pain?", ADVICE), min_evidence=-1.0,
                       min_coverage=0.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text == "NICE advises against opioids for chronic low back pain."
    assert [p.text for p in selection.points] == [
        "A review described the overuse of imaging, opioids and surgery for low back pain."]


@pytest.mark.parametrize("question, heading, asks", [
    ("How is hip osteoarthritis diagnosed?", "How is hip osteoarthritis diagnosed?", True),
    ("How is osteoarthritis of the hip diagnosed?", "How is hip osteoarthritis diagnosed?", True),
    ("How is hip osteoarthritis treated?", "How is hip osteoarthritis diagnosed?", False),  # another kind
    ("How is knee osteoarthritis diagnosed?", "How is hip osteoarthritis diagnosed?", False),  # another topic
    ("How is hip osteoarthritis diagnosed?", "Diagnosis of hip osteoarthritis", False),  # not a question
    ("Why?", "Why does hip osteoarthritis hurt?", False),  # no topic terms: every heading of its kind asks it
])
def test_a_heading_asks_the_question_when_it_is_of_its_kind_and_names_its_topic(question, heading, asks):
    from service.select import asks_the_question

    scored = scored_documents(question, [("hip", "Hip osteoarthritis", [
        (heading, {"Hip osteoarthritis is diagnosed clinically in adults, which is why it hurts.": 0.6})])])
    assert asks_the_question(scored.candidates, heading, 0.67) is asks


INCUBATION = {
    "Dromedary camels in several countries carried antibodies to the coronavirus.": 0.9,
    "The incubation period of MERS is about five days.": 0.6,
}


def summary_with_cosines(question: str, title: str, sentences: dict[str, float], cosines: dict[str, float]) -> str:
    """The summary of one section of `sentences` in a document called `title`, when their probabilities and
    cosines to the question are as given."""
    scored = with_cosines(scored_documents(question, [("a", title, [("Overview", sentences)])]), cosines)
    return select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.86).summary.text


@pytest.mark.parametrize("question, probability, cosine, summary", [
    # names the key terms the most probable sentence lacks, and is closer in meaning: the answer
    ("How long is the incubation period of MERS?", 0.6, 0.7, "The incubation period of MERS is about five days."),
    # not closer in meaning
    ("How long is the incubation period of MERS?", 0.6, 0.4, "Dromedary camels in several countries"),
    # less likely an answer than not
    ("How long is the incubation period of MERS?", 0.45, 0.7, "Dromedary camels in several countries"),
    # a yes/no question: a study's objective restates its title's question, so the scorer decides
    ("Is the incubation period of MERS longer than a week?", 0.6, 0.7,
     "Dromedary camels in several countries"),
])
def test_an_open_question_takes_a_likely_sentence_naming_more_of_it_and_closer_in_meaning(question, probability,
                                                                                           cosine, summary):
    sentences = dict(INCUBATION)
    sentences["The incubation period of MERS is about five days."] = probability
    cosines = dict(zip(INCUBATION, (0.5, cosine)))
    assert summary_with_cosines(question, "MERS", sentences, cosines).startswith(summary)


def test_a_sentence_naming_more_of_the_question_brings_the_list_that_leans_on_it():
    sentences = {
        "A guideline sorted back pain into three groups for triage.": 0.87,
        "Inflammatory back pain suggests axial spondyloarthritis.": 0.74,
        "Its features include onset before age 40, morning stiffness, pain at night and relief with exercise.": 0.7,
    }
    cosines = dict(zip(sentences, (0.5, 0.66, 0.37)))
    assert summary_with_cosines("What are the features of inflammatory back pain?", "Back pain", sentences,
                                cosines) == (
        "Inflammatory back pain suggests axial spondyloarthritis. Its features include onset before age 40, "
        "morning stiffness, pain at night and relief with exercise.")


TIME_COURSE = {
    "Recovery took a median of 4 weeks after early surgery against 12 weeks after conservative care.": 0.75,
    "Sciatica often improves over weeks to months without surgery.": 0.45,
}


@pytest.mark.parametrize("question, summary", [
    ("How long does sciatica usually last?", "Sciatica often improves over weeks to months without surgery."),
    ("How quickly does sciatica get better?", "Sciatica often improves over weeks to months without surgery."),
    # another kind of prognosis question: the scorer decides
    ("What is the outlook for sciatica?", "Recovery took a median of 4 weeks"),
])
def test_a_how_long_question_is_summarised_by_a_span_of_time_naming_the_condition(question, summary):
    # the trial sentence names sciatica only through its document's title; it is closer in meaning
    assert summary_with_cosines(question, "Sciatica", TIME_COURSE, dict(zip(TIME_COURSE, (0.6, 0.5)))).startswith(
        summary)


@pytest.mark.parametrize("sentence, gives", [
    ("Sciatica often improves over weeks to months.", True),
    ("Relief lasted at 12 months in most patients.", True),
    ("Most people recover within six weeks.", True),
    ("Recovery takes a few days.", True),
    ("Sciatica improves in most people.", False),
    ("Twelve patients recovered.", False),
])
def test_a_span_of_time_is_recognised(sentence, gives):
    from service.intent import question_intent

    assert question_intent("How long does sciatica last?").states_time_course(sentence) is gives


@pytest.mark.parametrize("question, asks", [
    ("How long does sciatica usually last?", True),
    ("How quickly does sciatica get better?", True),
    ("How long does a sacral fracture take to heal?", True),
    ("How long is the incubation period of MERS?", False),  # a figure, not a time course
    ("Does sciatica last long?", False),  # a yes or a no
])
def test_a_question_about_how_long_something_lasts_is_recognised(question, asks):
    from service.intent import question_intent

    assert question_intent(question).time_course is asks


SECOND_STATEMENT = {
    "The median incubation period of MERS was 5 days.": 0.9,
    "The incubation period of MERS ranged from 2 to 14 days.": 0.6,
    "Dromedary camels in several countries carried antibodies to the coronavirus.": 0.7,
}


RANGE = "The incubation period of MERS ranged from 2 to 14 days."


@pytest.mark.parametrize("question, cosines, points", [
    # as much about the question as the summary, and nearly as close in meaning: a point below the share
    ("How long is the incubation period of MERS?", (0.65, 0.4), [RANGE]),
    ("How long is the incubation period of MERS?", (0.61, 0.4), [RANGE]),
    # further than 0.1 from the summary in meaning: the document's share decides (0.6 < 0.86 x 0.9)
    ("How long is the incubation period of MERS?", (0.59, 0.4), []),
    # close in meaning but naming less of the question (MERS only through the title): the share decides
    ("How long is the incubation period of MERS?", (0.59, 0.68), []),
    # a yes/no question: the share decides
    ("Is the incubation period of MERS longer than a week?", (0.65, 0.4), []),
])
def test_a_sentence_as_much_about_an_open_question_as_the_summary_is_a_point_below_the_share(question, cosines,
                                                                                              points):
    cosines = dict(zip(SECOND_STATEMENT, (0.7, *cosines)))
    scored = with_cosines(scored_documents(question, [("a", "MERS", [("Overview", SECOND_STATEMENT)])]), cosines)
    selection = select(scored, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5, point_share=0.86)
    assert selection.summary.text == "The median incubation period of MERS was 5 days."
    assert [p.text for p in selection.points] == points


def test_further_statements_of_the_summary_document_never_displace_another_source():
    question = "How long is the incubation period of MERS?"
    other = "The incubation period of MERS in a hospital outbreak was 5 to 7 days."
    documents = [("a", "MERS", [("Overview", SECOND_STATEMENT)]),
                 ("b", "MERS outbreaks", [("Overview", {other: 0.55})])]
    cosines = dict(zip(SECOND_STATEMENT, (0.7, 0.65, 0.4))) | {other: 0.5}
    for max_points, points in ((1, [other]), (2, [other, RANGE])):
        scored = with_cosines(scored_documents(question, documents), cosines)
        selection = select(scored, max_points=max_points, min_evidence=-1.0, min_coverage=0.0, point_threshold=0.5,
                           point_share=0.86)
        assert [p.text for p in selection.points] == points


CAUSES = {
    "Get urgent help if buttock pain when sitting comes with loss of bladder control.": 0.92,
    "Buttock pain when sitting is mostly caused by an inflamed bursa, and treatment is rest.": 0.72,
}


@pytest.mark.parametrize("question, probability, top, summary", [
    # the most probable span gives no cause: the likely one that does is the answer
    ("What causes buttock pain when sitting?", 0.72, None, "Buttock pain when sitting is mostly caused"),
    ("Why is there buttock pain when sitting?", 0.72, None, "Buttock pain when sitting is mostly caused"),
    # "because" gives a cause too
    ("What causes buttock pain when sitting?", 0.72,
     "Buttock pain when sitting is common because the bursa at the sitting bone swells.", "Buttock pain when sitting is common because"),
    # less likely an answer than not: the scorer decides
    ("What causes buttock pain when sitting?", 0.45, None, "Get urgent help"),
    # not a question for a cause (the likely span also speaks of treatment: only a cause is preferred so)
    ("What is the treatment for buttock pain when sitting?", 0.72, None, "Get urgent help"),
])
def test_a_cause_question_takes_a_likely_span_giving_a_cause_when_the_most_probable_gives_none(question, probability,
                                                                                               top, summary):
    sentences = dict(CAUSES)
    sentences["Buttock pain when sitting is mostly caused by an inflamed bursa, and treatment is rest."] = probability
    if top:  # a most probable span that gives a cause itself stays the summary
        sentences = {top: 0.95, **sentences}
    # equal cosines: closeness in meaning is a rule of its own
    cosines = dict.fromkeys(sentences, 0.6)
    assert summary_with_cosines(question, "Buttock pain", sentences, cosines).startswith(summary)
