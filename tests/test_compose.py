"""compose(): numbering, contiguous sections, pages and cited works, on literal hits and picks."""
from __future__ import annotations

import numpy as np

from index.types import DocumentRecord, Hit
from ingest.documents import Chunk, CitedWork, DocMeta
from service.answer_types import Passage, Pick, Point, Retrieval, Selection
from service.compose import DEFAULT_ABSTAIN_TEXT, compose, evidence_label, is_facet_heading
from service.render import answer_to_markdown, answer_to_text

MAHER = CitedWork("Maher 2017", "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389:736-47.",
                  doi="10.1016/S0140-6736(16)30970-9", pmid="27745712")
FORTIN = CitedWork("Fortin 1994", "Fortin JD, Dwyer AP, West S, Pier J. Sacroiliac joint: pain referral maps. Spine. "
                   "1994;19:1475-82.")
MAHER_AGAIN = CitedWork("1", MAHER.text)  # the same entry reached through another in-text form
COHEN = CitedWork("12", "Cohen SP. Sacroiliac joint pain: a comprehensive review. Anesth Analg. 2005;101:1440-53.",
                  pmid="16244008")


def record(doc_id: str, kind: str, title: str = "") -> DocumentRecord:
    return DocumentRecord(doc_id, f"corpus/{doc_id}.md", DocMeta(title=title or doc_id.title(), type=kind, year=2020),
                          "h" + doc_id, 3)


REVIEW = record("review", "review", "Buttock pain")
GUIDE = record("guide", "guideline")
PATIENT = record("leaflet", "patient information")
STUDY = record("study", "research")


def hit(doc: DocumentRecord, n: int, heading: str, page: int | None, text: str) -> Hit:
    return Hit(Chunk(f"{doc.doc_id}#{n}", doc.doc_id, text, 0, len(text), heading, page), doc, 1.0)


def pick(h: Hit, text: str, cites=(), also=()) -> Pick:
    start = h.chunk.text.index(text)
    return Pick(h, start, start + len(text), text, h.chunk.heading, 1.0, tuple(cites), tuple(also))


R_DIAG = hit(REVIEW, 0, "Diagnosis", 2, "Pain below the iliac crest is buttock pain (Maher 2017). It is common.")
R_DIAG2 = hit(REVIEW, 1, "Diagnosis", 4, "Referral maps place sacroiliac pain in the buttock (Fortin 1994).")
R_TREAT = hit(REVIEW, 2, "Treatment", 3, "Staying active helps most adults [1].")
G_TREAT = hit(GUIDE, 0, "Treatment", None, "Advise staying active and simple analgesia.")
P_OVER = hit(PATIENT, 0, "Overview", 1, "Buttock pain usually gets better within six weeks.")
S_ABS = hit(STUDY, 0, "Abstract", 7, "Sacroiliac joint pain was found in 30% of patients [12].")
HITS = (R_DIAG, R_DIAG2, R_TREAT, G_TREAT, P_OVER, S_ABS)


class Index:
    """The two methods compose may call: document and chunks_of."""

    def document(self, doc_id):
        return {d.doc_id: d for d in (REVIEW, GUIDE, PATIENT, STUDY)}[doc_id]

    def chunks_of(self, doc_id):
        return [h.chunk for h in HITS if h.chunk.doc_id == doc_id]


def selection() -> Selection:
    """Points in selection order: a study, a treatment point, the leaflet, a diagnosis point, another treatment one."""
    return Selection(
        summary=pick(P_OVER, "Buttock pain usually gets better within six weeks."),
        points=(
            pick(S_ABS, "Sacroiliac joint pain was found in 30% of patients [12].", cites=[COHEN]),
            pick(R_TREAT, "Staying active helps most adults [1].", cites=[MAHER_AGAIN],
                 also=[pick(G_TREAT, "Advise staying active and simple analgesia.")]),
            pick(R_DIAG, "Pain below the iliac crest is buttock pain (Maher 2017).", cites=[MAHER]),
            pick(R_DIAG2, "Referral maps place sacroiliac pain in the buttock (Fortin 1994).", cites=[FORTIN]),
            pick(G_TREAT, "Advise staying active and simple analgesia."),
        ),
        abstained=False, uncovered=("yoga",), evidence=0.7, coverage=0.8)


def composed():
    retrieval = Retrieval("How is buttock pain diagnosed and treated?", np.zeros(4, dtype=np.float32), HITS)
    return compose(retrieval.question, retrieval, selection(), Index(), "D.")


def test_points_are_grouped_contiguously_facets_first_then_evidence_labels():
    a = composed()
    assert a.summary == "Buttock pain usually gets better within six weeks." and a.summary_citations == (1,)
    assert a.points == (
        Point("Staying active helps most adults [1].", (2, 3), "Treatment"),
        Point("Advise staying active and simple analgesia.", (3,), "Treatment"),
        Point("Pain below the iliac crest is buttock pain (Maher 2017).", (2,), "Diagnosis"),
        Point("Referral maps place sacroiliac pain in the buttock (Fortin 1994).", (2,), "Diagnosis"),
        Point("Sacroiliac joint pain was found in 30% of patients [12].", (4,), "Research"),
    )
    assert a.uncovered == ("yoga",) and (a.evidence, a.coverage) == (0.7, 0.8)


def test_references_in_order_of_first_citation_with_pages_and_cited_works():
    a = composed()
    assert [(r.number, r.doc_id, r.type) for r in a.references] == [
        (1, "leaflet", "patient information"), (2, "review", "review"), (3, "guide", "guideline"),
        (4, "study", "research")]
    review = a.references[1]
    assert [p.chunk_id for p in review.passages] == ["review#2", "review#0", "review#1"]
    assert review.passages[0] == Passage("review#2", 3, R_TREAT.chunk.text)
    assert (review.page, review.pages) == (2, (2, 3, 4))
    # the same entry text once, in order of citation, with the identifiers any of its citations carried
    assert review.cited_works == (CitedWork("1", MAHER.text, MAHER.doi, MAHER.pmid), FORTIN)
    assert (a.references[2].page, a.references[2].pages, a.references[2].cited_works) == (None, (), ())
    assert a.references[3].cited_works == (COHEN,)


def test_abstention_lists_the_nearest_sources_uncited():
    retrieval = Retrieval("q", np.zeros(4, dtype=np.float32), HITS)
    a = compose("q", retrieval, Selection(None, (), True, uncovered=("coccyx",)), Index(), "D.")
    assert (a.abstained, a.summary, a.points, a.summary_citations) == (True, DEFAULT_ABSTAIN_TEXT, (), ())
    assert [r.doc_id for r in a.references] == ["review", "guide", "leaflet"]
    assert a.uncovered == ("coccyx",)
    assert "Nearest sources:" in answer_to_text(a) and "References" not in answer_to_text(a)
    assert "### Nearest sources" in answer_to_markdown(a)


def test_facet_headings_and_evidence_labels():
    assert is_facet_heading("Which spinal conditions cause buttock pain?")
    assert is_facet_heading("Diagnosis") and is_facet_heading("2.1 Treatment options")
    # a question heading states its facet in full, so it may run longer than a label
    assert is_facet_heading("How is proximal hamstring tendinopathy told apart from other causes of buttock pain?")
    assert not is_facet_heading("How is proximal hamstring tendinopathy told apart from other causes of buttock "
                                "pain in runners, in older adults and in people who sit for long hours?")
    for heading in ("", "Abstract", "3. Results", "INTRODUCTION", "Buttock pain", "12",
                    "A heading that runs on for far too many words to be a label for a group of points here"):
        assert not is_facet_heading(heading, title="Buttock pain"), heading
    assert [evidence_label(t) for t in ("guideline", "systematic review", "research", "review",
                                        "patient information", "other", "")] == [
        "Guidelines", "Systematic reviews", "Research", "Reviews", "Patient information", "Other sources",
        "Other sources"]


def test_renderings_take_markers_from_the_number_lists_only():
    a = composed()
    md = answer_to_markdown(a)
    assert md.startswith("**Buttock pain usually gets better within six weeks.** [1]\n\n"
                         "The indexed sources do not address: yoga.\n\n### Treatment\n\n"
                         "- Staying active helps most adults \\[1\\]. [2, 3]\n")
    assert "- Sacroiliac joint pain was found in 30% of patients \\[12\\]. [4]" in md
    assert ("    - Cites: Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389:736-47. "
            "<https://doi.org/10.1016/S0140-6736%2816%2930970-9> <https://pubmed.ncbi.nlm.nih.gov/27745712/>") in md
    text = answer_to_text(a)
    assert text.startswith("Buttock pain usually gets better within six weeks. [1]\n\n"
                           "The indexed sources do not address: yoga.\n\nTreatment\n"
                           "  * Staying active helps most adults [1]. [2, 3]\n")
    assert "  [2] Buttock pain. 2020. Review. pp. 2, 3, 4. corpus/review.md." not in text  # no link: no URL/DOI
    assert "  [2] Buttock pain. 2020. Review. pp. 2, 3, 4.\n" in text
