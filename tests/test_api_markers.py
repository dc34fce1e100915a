"""Bracketed numbers in source text ("[2, 3]", "G1P[8]") stay text: /ask carries numbers only in the lists."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_support import CITES, EVIDENCE_DOCS, FakeIndex, fake_app, wait_ready

QUESTION = "How is buttock pain in adults diagnosed: sacroiliac joint, staying active, G1P strain, spinal stenosis and yoga?"
SOURCE_SENTENCES = {text for _, _, sections, _ in [v[1:] for v in EVIDENCE_DOCS.values()] for _, _, text in sections}


@pytest.fixture(scope="module")
def body():
    with TestClient(fake_app(index_factory=lambda: FakeIndex(EVIDENCE_DOCS, CITES))) as client:
        wait_ready(client)
        r = client.post("/ask", json={"question": QUESTION})
        assert r.status_code == 200
        return r.json()


def test_text_fields_are_the_source_sentences_exactly(body):
    assert (body["summary"], body["summary_citations"]) == (
        "The G1P[8] strain was found in adults admitted with buttock pain and fever.", [1])
    assert [(p["text"], p["citations"], p["section"]) for p in body["points"]] == [
        ("Staying active is advised for most adults with buttock pain (Maher 2017).", [2], "Treatment"),
        ("Lumbar disc herniation and spinal stenosis can both cause buttock pain.", [2],
         "Which spinal conditions cause buttock pain?"),
        ("Pain on sitting that is worse than pain on standing points to the sacroiliac joint [2, 3].", [2],
         "Diagnosis"),
        ("Buttock pain below the iliac crest is usually referred from the lumbar spine (Maher 2017).", [2],
         "Diagnosis"),
    ]
    assert {body["summary"]} | {p["text"] for p in body["points"]} <= SOURCE_SENTENCES  # nothing appended


def test_references_pages_cited_works_and_uncovered(body):
    assert [(r["number"], r["doc_id"], r["type"]) for r in body["references"]] == [
        (1, "rota-study", "research"), (2, "buttock-review", "review")]
    review = body["references"][1]
    assert (review["page"], review["pages"]) == (2, [2, 3, 4])
    assert review["cited_works"] == [{
        "marker": "Maher 2017",
        "text": "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389(10070):736-47.",
        "doi": "10.1016/S0140-6736(16)30970-9", "pmid": "27745712"}]
    assert body["references"][0]["cited_works"] == [] and body["references"][0]["url"] is None
    assert body["uncovered"] == ["yoga"]
    assert body["related_questions"] == ["Which spinal conditions cause buttock pain?"]
