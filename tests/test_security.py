"""Issue 13 regressions that need no live server: log forging, browser defences, leaks, hostile input."""
from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api_support import fake_app, wait_ready
from service.settings import Settings


@pytest.fixture
def client():
    with TestClient(fake_app(Settings(index="/nonexistent-medcite-index", api_key="k\u00e9y-\u2713"))) as c:
        wait_ready(c)
        yield c


# --- item 7: log forging ------------------------------------------------------------------------


def test_access_log_escapes_newlines_escape_sequences_and_nul(client, caplog):
    with caplog.at_level(logging.INFO, logger="medcite.access"):
        client.get("/healthz%0amethod=GET path=/admin status=200%1b[2J%00 x\\y")
    lines = [r.getMessage() for r in caplog.records if r.name == "medcite.access"]
    assert len(lines) == 1
    assert lines[0].startswith("method=GET path=/healthz\\nmethod=GET\\x20path=/admin\\x20status=200\\x1b[2J\\x00"
                               "\\x20x\\\\y status=404 ")
    assert all(ch == " " or ch.isprintable() for ch in lines[0])


# --- item 9: browser defences -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_page_and_static_files_carry_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


def test_json_responses_carry_a_strict_policy(client):
    for r in (client.post("/ask", json={"question": "buttock pain"}), client.get("/nowhere")):
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"


# --- item 8: hostile bodies and keys ------------------------------------------------------------


def test_deeply_nested_metadata_gets_422(client):
    nested = "[" * 100_000 + "]" * 100_000
    r = client.post("/documents", headers=[(b"authorization", "Bearer k\u00e9y-\u2713".encode("utf-8"))],
                    files={"file": ("a.md", b"# A\n\ntext.", "text/markdown")}, data={"metadata": nested})
    assert r.status_code == 422
    assert r.json() == {"detail": "metadata is nested too deeply: it must be a flat JSON object"}


@pytest.mark.parametrize("body, detail", [
    ('{"question": "caf\u00e9"}'.encode("latin-1"), "request body is not valid UTF-8"),
    (b'{"question": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "request body is nested too deeply"),
])
def test_undecodable_json_bodies_get_422(client, body, detail):
    r = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json() == {"detail": detail}


def test_non_ascii_api_key_works_when_sent_as_utf8(client):
    utf8 = "Bearer k\u00e9y-\u2713".encode("utf-8")
    r = client.delete("/documents/nope", headers=[(b"authorization", utf8)])
    assert r.status_code == 404  # authorised: the document just does not exist
    wrong = "Bearer k\u00e9y-\u2717".encode("utf-8")
    assert client.delete("/documents/nope", headers=[(b"authorization", wrong)]).status_code == 401
