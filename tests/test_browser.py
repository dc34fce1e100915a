"""The web page in a real headless Chromium (Debian's chromium, driven by Playwright; no downloads)."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from api_support import fake_app, free_port

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[1] / "test-output"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server_url():
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (make browser-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1100, "height": 1200})
        yield page
        browser.close()


def test_question_answer_and_references(server_url, page):
    page.goto(server_url + "/")
    page.fill("#question", "Where is buttock pain felt?")
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])", timeout=10_000)
    assert page.text_content("#summary") == "Buttock pain is felt below the iliac crest. [1]"
    assert page.locator("#points li").count() == 2
    assert page.text_content("#points li:first-child") == "Buttock pain is felt below the iliac crest.[1]"
    refs = page.locator("#references li")
    assert refs.count() == 2
    first = page.text_content("#ref-1")
    for part in ("guideline", "Buttock pain versus low back pain", "J Pain", "2004", "p. 1"):
        assert part in first
    assert page.get_attribute("#ref-1 a.ref-title", "href") == "https://example.org/buttock-1"
    assert "Not advice." in page.text_content("#disclaimer")
    assert page.text_content("#related li a") == "What is sacroiliac joint pain?"
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "browser-answer.png"), full_page=True)
    page.click("#summary a.cite")
    assert page.evaluate("location.hash") == "#ref-1"
    assert page.evaluate("document.querySelector(':target').id") == "ref-1"


def test_abstention_and_error_states(server_url, page):
    page.goto(server_url + "/")
    page.fill("#question", "please abstain")
    page.click("#ask-button")
    page.wait_for_selector("#abstained-note:not([hidden])", timeout=10_000)
    assert "abstained" in page.get_attribute("#answer", "class")
    assert page.locator("#points li").count() == 0
    page.fill("#question", "x" * 2000 + "y")  # maxlength keeps the box at 2,000; send the long one directly
    page.evaluate("ask('x'.repeat(2001))")
    page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    assert page.text_content("#error-detail") == "question must be at most 2,000 characters (got 2,001)"
    assert page.is_hidden("#answer")
    page.screenshot(path=str(OUTPUT / "browser-error.png"), full_page=True)
