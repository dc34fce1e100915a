"""The API over a real index (FakeEmbedder, a tiny literal corpus ingested with ingest_paths)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_support import wait_ready, wait_settled
from service.app import create_app
from service.settings import Settings

CORPUS = {
    "buttock-pain.md": """---
title: Buttock pain versus low back pain
type: guideline
year: 2004
journal: Spine Notes
---
# Where the pain is

Buttock pain is felt below the iliac crest and above the gluteal fold.
Low back pain is felt between the twelfth ribs and the iliac crest.
Sacroiliac joint pain is usually felt in the buttock rather than the low back.
""",
    "knee.md": """---
title: Knee osteoarthritis
type: review
year: 2019
---
# Knee osteoarthritis

Knee osteoarthritis causes pain when walking and stiffness in the morning.
Exercise therapy reduces knee pain in osteoarthritis.
""",
}


@pytest.fixture
def index_dir(tmp_path):
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    report = ingest_paths([corpus], tmp_path / "index", FakeEmbedder())
    assert not report.failed
    return tmp_path / "index"


def client_for(index_dir, **kw) -> TestClient:
    return TestClient(create_app(Settings(index=index_dir, model="fake", **kw)))


def test_ask_over_real_index(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["documents"] == 2 and ready["model"] == "fake-hash-64"
        r = c.post("/ask", json={"question": "Where is buttock pain felt?"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["question"] == "Where is buttock pain felt?"
        for ref in body["references"]:
            assert ref["source"].endswith(".md") and ref["passages"]
        if not body["abstained"]:
            assert body["references"][0]["title"] == "Buttock pain versus low back pain"
        hits = c.post("/search", json={"query": "knee osteoarthritis exercise", "top_k": 2, "mode": "bm25"}).json()["hits"]
        assert hits[0]["title"] == "Knee osteoarthritis"
        docs = c.get("/documents").json()
        assert docs["total"] == 2
        detail = c.get(f"/documents/{hits[0]['doc_id']}").json()
        assert detail["type"] == "review" and detail["year"] == 2019 and detail["chunks"]


def test_missing_index_reason(tmp_path):
    with client_for(tmp_path / "none") as c:
        wait_settled(c)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"detail": "no index at MEDCITE_INDEX: run `medcite ingest` first"}


def test_upload_then_delete(index_dir):
    auth = {"Authorization": "Bearer k3y"}
    with client_for(index_dir, api_key="k3y") as c:
        wait_ready(c)
        text = b"# Hip pain\n\nHip joint pain is usually felt in the groin rather than the buttock.\n"
        r = c.post("/documents", headers=auth, files={"file": ("hip pain.md", text, "text/markdown")},
                   data={"metadata": '{"type": "guideline", "year": 2021, "title": "Hip pain"}'})
        assert r.status_code == 201, r.text
        docs = r.json()["documents"]
        assert [(d["title"], d["type"], d["year"]) for d in docs] == [("Hip pain", "guideline", 2021)]
        assert r.json()["report"].startswith("added 1, ")
        assert (index_dir / "uploads" / "hip_pain.md").exists()
        assert c.get("/readyz").json()["documents"] == 3
        doc_id = docs[0]["doc_id"]
        assert c.get(f"/documents/{doc_id}").status_code == 200
        hits = c.post("/search", json={"query": "hip joint groin", "mode": "bm25"}).json()["hits"]
        assert hits[0]["doc_id"] == doc_id
        r = c.delete(f"/documents/{doc_id}", headers=auth)
        assert r.status_code == 204 and r.content == b""
        assert c.get(f"/documents/{doc_id}").status_code == 404
        assert c.delete(f"/documents/{doc_id}", headers=auth).status_code == 404
        assert not (index_dir / "uploads" / "hip_pain.md").exists()
        assert c.get("/readyz").json()["documents"] == 2


@pytest.mark.parametrize("files, data, message", [
    ({"file": ("x.exe", b"MZ", "application/octet-stream")}, {}, "unsupported file type '.exe'"),
    ({"file": ("broken.pdf", b"%PDF-1.4 not really", "application/pdf")}, {}, "could not read broken.pdf"),
    ({"file": ("a.md", b"# A\n\ntext text.", "text/markdown")}, {"metadata": "[1]"}, "metadata must be a JSON object"),
    ({"file": ("a.md", b"# A\n\ntext text.", "text/markdown")}, {"metadata": '{"colour": 1}'}, "metadata has unknown keys"),
    (None, {"metadata": "{}"}, "file is required"),
])
def test_bad_uploads_get_422(index_dir, files, data, message):
    with client_for(index_dir, api_key="k3y") as c:
        wait_ready(c)
        r = c.post("/documents", headers={"Authorization": "Bearer k3y"}, files=files, data=data)
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"]
        assert c.get("/readyz").json()["documents"] == 2
        assert not any((index_dir / "uploads").glob("*.pdf")) if (index_dir / "uploads").exists() else True


def test_upload_over_limit_gets_413(index_dir):
    with client_for(index_dir, api_key="k3y", max_upload_bytes=1000) as c:
        r = c.post("/documents", headers={"Authorization": "Bearer k3y"},
                   files={"file": ("big.md", b"word " * 1000, "text/markdown")})
        assert r.status_code == 413 and r.json() == {"detail": "request body too large: the limit is 1,000 bytes"}
