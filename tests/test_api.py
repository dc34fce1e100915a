"""The HTTP API through the real app (FakeEmbedder + a two-document fake index)."""
from __future__ import annotations

import asyncio

import anyio
import re
import logging
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from api_support import fake_answer, fake_app, wait_ready, wait_settled
from service.settings import Settings

Q = "Where is buttock pain felt?"


@pytest.fixture
def client():
    with TestClient(fake_app()) as c:
        wait_ready(c)
        yield c


def keyed_client(key="s3cret", **kw):
    return TestClient(fake_app(Settings(index="/nonexistent-medcite-index", api_key=key, **kw)))


# --- answers ------------------------------------------------------------------------------

def test_ask_answers_with_references(client):
    r = client.post("/ask", json={"question": Q})
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is False
    assert body["summary"] == "Buttock pain is felt below the iliac crest."
    assert body["summary_citations"] == [1]
    assert body["points"][0] == {"text": "Low back pain is felt above it.", "citations": [1], "section": "Guidelines"}
    ref = body["references"][0]
    assert (ref["number"], ref["doc_id"], ref["type"], ref["year"], ref["page"], ref["pages"]) == (
        1, "buttock-1", "guideline", 2004, 1, [1])
    assert ref["passages"][0]["chunk_id"] == "buttock-1#0"
    assert ref["cited_works"] == [] and body["uncovered"] == []


def test_ask_strips_question_and_passes_filters(client):
    seen = {}

    def spy(question, index, embedder, top_k, filters, disclaimer):
        seen.update(question=question, top_k=top_k, filters=filters)
        return fake_answer(question, index, embedder, top_k, filters, disclaimer)

    from service.deps import get_answerer
    client.app.dependency_overrides[get_answerer] = lambda: spy
    r = client.post("/ask", json={"question": "  " + Q + "\n", "top_k": 3,
                                  "filters": {"type": ["review"], "year_min": 2015, "year_max": 2025}})
    assert r.status_code == 200
    assert seen["question"] == Q and seen["top_k"] == 3
    assert (seen["filters"].types, seen["filters"].year_min, seen["filters"].year_max) == (("review",), 2015, 2025)
    assert {ref["doc_id"] for ref in r.json()["references"]} == {"sij-2"}


def test_abstention_is_a_200(client):
    r = client.post("/ask", json={"question": "please abstain on this"})
    assert r.status_code == 200 and r.json()["abstained"] is True and r.json()["points"] == []


def test_search_returns_contract_hits(client):
    r = client.post("/search", json={"query": "sacroiliac joint", "top_k": 1})
    assert r.status_code == 200
    assert r.json() == {"hits": [{"chunk_id": "sij-2#0", "doc_id": "sij-2", "source": "corpus/sij-2.md",
                                  "title": "Sacroiliac joint pain", "page": 1, "score": 2.0,
                                  "text": "Sacroiliac joint pain often refers to the buttock."}]}


def test_documents_list_get_and_404(client):
    r = client.get("/documents", params={"limit": 1})
    assert r.status_code == 200
    assert r.json()["total"] == 2 and [d["doc_id"] for d in r.json()["documents"]] == ["buttock-1"]
    d = client.get("/documents/sij-2").json()
    assert d["title"] == "Sacroiliac joint pain" and [c["chunk_id"] for c in d["chunks"]] == ["sij-2#0", "sij-2#1"]
    r = client.get("/documents/nope")
    assert r.status_code == 404 and r.json() == {"detail": "no document 'nope'"}


# --- validation and limits ----------------------------------------------------------------

@pytest.mark.parametrize("payload, message", [
    ({"question": ""}, "question must not be empty"),
    ({"question": " \n\t "}, "question must not be empty"),
    ({"question": "x" * 2001}, "question must be at most 2,000 characters (got 2,001)"),
    ({}, "question is required"),
    ({"question": Q, "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
    ({"question": Q, "top_k": 21}, "top_k: Input should be less than or equal to 20"),
    ({"question": Q, "filters": {"year_min": 2020, "year_max": 2010}}, "year_min must not be greater than year_max"),
    ({"question": Q, "colour": "red"}, "colour is not an accepted field"),
    ([1, 2], "request body must be a JSON object"),
])
def test_invalid_questions_get_422_saying_what_is_wrong(client, payload, message):
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    assert message in r.json()["detail"]
    assert r.json()["errors"]


def test_exactly_2000_characters_is_accepted(client):
    assert client.post("/ask", json={"question": "pain " * 399 + "pain"}).status_code == 200


def test_invalid_json_gets_422(client):
    r = client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("request body is not valid JSON")


def test_missing_body_gets_422(client):
    r = client.post("/ask")
    assert r.status_code == 422 and r.json()["detail"] == "request body is required"


def test_body_over_64kb_gets_413_by_length(client):
    r = client.post("/ask", content=b'{"question": "' + b"a" * 70_000 + b'"}', headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json() == {"detail": "request body too large: the limit is 65,536 bytes"}


def test_streamed_body_over_64kb_gets_413(client):
    def chunks():
        yield b'{"question": "'
        for _ in range(10):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_unknown_route_and_wrong_method_are_json(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = client.get("/ask")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    assert client.get("/static/missing.js").json() == {"detail": "Not Found"}


# --- readiness ----------------------------------------------------------------------------

def test_not_ready_until_loaded_but_healthz_answers():
    gate = threading.Event()
    with TestClient(fake_app(gate=gate)) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json() == {"detail": "loading the model and the index"}
        assert r.headers["retry-after"] == "1"
        assert c.post("/ask", json={"question": Q}).status_code == 503
        gate.set()
        wait_ready(c)
        assert c.get("/readyz").json() == {"status": "ready", "chunks": 4, "documents": 2, "model": "fake-hash-64"}


def test_corrupt_index_is_never_served():
    from index.errors import IndexCorrupt

    with TestClient(fake_app(index_error=IndexCorrupt("chunks.sqlite checksum differs"))) as c:
        wait_settled(c)
        r = c.get("/readyz")
        expected = ("index at MEDCITE_INDEX is corrupt (chunks.sqlite checksum differs): "
                    "rebuild it with `medcite ingest`")
        assert r.status_code == 503 and r.json() == {"detail": expected}
        r = c.post("/ask", json={"question": Q})
        assert r.status_code == 503 and r.json() == {"detail": expected} and r.headers["retry-after"] == "1"


# --- auth and CORS ------------------------------------------------------------------------

def test_write_endpoints_disabled_without_key(client):
    r = client.delete("/documents/buttock-1")
    assert r.status_code == 403 and r.json() == {"detail": "write endpoints are disabled: set MEDCITE_API_KEY"}
    r = client.post("/documents", files={"file": ("a.md", b"# A\n\ntext")})
    assert r.status_code == 403


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret", "s3cret"])
def test_wrong_or_missing_key_gets_401(header):
    with keyed_client() as c:
        headers = {"Authorization": header} if header else {}
        r = c.delete("/documents/buttock-1", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"].startswith("missing or wrong API key")


def test_cors_off_by_default_and_on_when_configured(client):
    h = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/ask", headers=h).headers
    with keyed_client(cors_origins="https://wiki.hospital.example") as c:
        r = c.options("/ask", headers={**h, "Origin": "https://wiki.hospital.example"})
        assert r.headers["access-control-allow-origin"] == "https://wiki.hospital.example"


# --- concurrency --------------------------------------------------------------------------

def test_overload_gets_503_and_healthz_is_not_queued():
    release, entered = threading.Event(), threading.Semaphore(0)

    def slow_answer(*args):
        entered.release()
        release.wait(5)
        return fake_answer(*args)

    app = fake_app(Settings(index="/x", max_in_flight=2, cpu_workers=2), answerer=slow_answer)

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                await anyio.to_thread.run_sync(app.state.service.settled.wait, 5)
                busy = [asyncio.create_task(c.post("/ask", json={"question": Q})) for _ in range(2)]
                for _ in busy:  # both requests admitted and inside the answerer
                    assert await anyio.to_thread.run_sync(entered.acquire, True, 5)
                gauge = app.state.metrics.in_flight._value.get()
                refused = await c.post("/ask", json={"question": Q})
                health = await c.get("/healthz")
                answering = [not t.done() for t in busy]  # healthz answered while both still hold their slots
                metrics = (await c.get("/metrics")).text
                release.set()
                done = await asyncio.gather(*busy)
                return gauge, refused, health, answering, metrics, done

    gauge, refused, health, answering, metrics, done = asyncio.run(scenario())
    assert gauge == 2
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["detail"].startswith("server is busy")
    assert health.status_code == 200 and answering == [True, True]
    assert "medcite_rejected_requests_total 1.0" in metrics
    assert [r.status_code for r in done] == [200, 200]


# --- observability ------------------------------------------------------------------------

def test_metrics_count_requests_by_route(client):
    client.post("/ask", json={"question": Q})
    client.get("/documents/sij-2")
    text = client.get("/metrics").text
    assert 'medcite_requests_total{method="POST",route="/ask",status="200"} 1.0' in text
    assert 'medcite_requests_total{method="GET",route="/documents/{doc_id}",status="200"} 1.0' in text
    assert 'medcite_answers_total{abstained="false"} 1.0' in text
    assert "medcite_index_chunks 4.0" in text


def test_one_access_line_per_request_without_the_question(client, caplog):
    caplog.set_level(logging.DEBUG, logger="medcite.access")
    caplog.set_level(logging.INFO, logger="medcite.service")
    r = client.post("/ask", json={"question": "patient John Smith has buttock pain"}, headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "medcite.access"]
    assert len(lines) == 1
    assert lines[0].startswith("method=POST path=/ask status=200 latency_ms=")
    assert lines[0].endswith("request_id=abc-123")
    assert "John Smith" not in caplog.text


def test_questions_logged_only_when_configured(caplog):
    caplog.set_level(logging.INFO, logger="medcite.service")
    with TestClient(fake_app(Settings(index="/x", log_questions=True))) as c:
        wait_ready(c)
        c.post("/ask", json={"question": "patient John Smith has buttock pain"})
    assert "John Smith" in caplog.text


def test_generated_request_id_and_bad_one_replaced(client):
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\x7f"}).headers["x-request-id"] != "bad id\x7f"


def test_web_page_is_served_without_external_resources(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    css, js = client.get("/static/style.css").text, client.get("/static/app.js").text
    # Nothing is loaded from elsewhere: no remote src/href, no CSS url()/@import, fetch only relative.
    assert re.findall(r'(?:src|href)="([^"]*)"', r.text) == ["/static/style.css", "/static/app.js"]
    assert "url(" not in css and "@import" not in css
    assert re.findall(r'fetch\(([^,)]*)', js) == ['"/ask"']


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/documents", "/documents/{doc_id}", "/healthz", "/readyz", "/metrics"} <= set(paths)
