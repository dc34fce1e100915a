"""A live uvicorn on loopback: graceful shutdown drains in-flight requests; the load test script runs."""
from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from api_support import fake_answer, fake_app, free_port
from service.settings import Settings


def test_shutdown_drains_in_flight_requests():
    started, release = threading.Event(), threading.Event()

    def slow_answer(*args):
        started.set()
        release.wait(5)
        return fake_answer(*args)

    port = free_port()
    app = fake_app(Settings(index="/x"), answerer=slow_answer)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    assert app.state.service.settled.wait(10) and wait_for(lambda: server.started)
    assert httpx.get(base + "/readyz").status_code == 200
    result = {}
    asker = threading.Thread(target=lambda: result.update(r=httpx.post(base + "/ask", json={"question": "buttock pain"},
                                                                     timeout=10)))
    asker.start()
    assert started.wait(5)
    server.should_exit = True  # what SIGTERM does
    assert wait_for(lambda: refuses_connections(base))  # shutdown has begun, the request is still in flight
    release.set()
    asker.join(10)
    thread.join(10)
    assert result["r"].status_code == 200 and result["r"].json()["abstained"] is False
    assert not thread.is_alive()


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Whether condition() became true within timeout (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def refuses_connections(base: str) -> bool:
    """Whether the server has stopped serving new connections (refused, or closed without an answer)."""
    try:
        httpx.get(base + "/healthz", timeout=5)
    except httpx.TransportError:
        return True
    return False


def test_the_load_test_warns_when_it_falls_back_to_its_built_in_questions(tmp_path, monkeypatch):
    from eval import loadtest

    monkeypatch.setattr(loadtest, "DEV_QUERIES", tmp_path / "medquad-dev" / "queries.jsonl")  # not there
    builtin = loadtest.load_questions(None)
    assert builtin is loadtest.BUILTIN_QUESTIONS
    assert loadtest.builtin_warning(builtin) == (
        "warning: no --questions and no medquad-dev/queries.jsonl beside the checkout: asking the 10 built-in "
        "questions over and over measures warm answers")
    own = tmp_path / "questions.txt"
    own.write_text("What causes buttock pain?\nHow is sciatica treated?\n", encoding="utf-8")
    assert loadtest.builtin_warning(loadtest.load_questions(own)) is None


def test_loadtest_smoke(tmp_path):
    from eval import loadtest
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Buttock pain\n\nButtock pain is felt below the iliac crest.\n", encoding="utf-8")
    ingest_paths([corpus], tmp_path / "idx", FakeEmbedder())
    out = tmp_path / "load.json"
    code = loadtest.main(["--index", str(tmp_path / "idx"), "--model", "fake", "--duration", "2",
                          "--concurrency", "4", "--output", str(out)])
    import json

    result = json.loads(out.read_text())
    assert code == 0 and result["errors"] == {} and set(result["status"]) == {"200"}
    # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is done: -15 is a clean exit.
    assert result["requests"] > 0 and result["server_exit"] in (0, -15)
    assert result["ready_s"] > 0 and result["rss_mb_peak"] > 0  # measured, not judged: no timing assertions
