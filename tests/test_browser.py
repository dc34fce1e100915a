"""The web page in a real headless Chromium (Debian's chromium, driven by Playwright; no downloads)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from api_support import CITES, EVIDENCE_DOCS, FakeIndex, fake_app, free_port, wait_http_ready
from browser_support import chromium_page

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "test-output"
SCREENSHOT = REPO / "docs" / "answer-page.png"  # shown in the README
EVIDENCE_QUESTION = ("How is buttock pain in adults diagnosed: sacroiliac joint, staying active, G1P strain, "
                     "spinal stenosis and yoga?")


def serve(app):
    """Run an app with uvicorn on a free port in a thread; yield its URL; stop it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http_ready(url)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def server_url():
    yield from serve(fake_app())


@pytest.fixture(scope="module")
def evidence_url():
    """A review with Diagnosis/Treatment sections citing (Maher 2017), "[2, 3]" and "G1P[8]" in source text."""
    yield from serve(fake_app(index_factory=lambda: FakeIndex(EVIDENCE_DOCS, CITES)))


@pytest.fixture(scope="module")
def page():
    yield from chromium_page(1100, 1200)


def test_question_answer_and_references(server_url, page):
    page.goto(server_url + "/")
    page.fill("#question", "Where is buttock pain felt?")
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])", timeout=10_000)
    assert page.text_content("#summary") == "Buttock pain is felt below the iliac crest.[1]"
    assert page.locator("#sections li").count() == 3
    assert page.locator("#sections h3").all_text_contents() == ["Guidelines", "Reviews"]
    assert page.text_content("#sections li >> nth=0") == "Low back pain is felt above it.[1]"
    assert page.is_hidden("#uncovered")
    assert page.text_content("#references-title") == "References"
    refs = page.locator("#references > li")
    assert refs.count() == 2
    first = page.text_content("#ref-1")
    for part in ("guideline", "Buttock pain versus low back pain", "J Pain", "2004", "p. 1"):
        assert part in first
    assert page.get_attribute("#ref-1 a.ref-title", "href") == "https://example.org/buttock-1"
    assert "Not advice." in page.text_content("#disclaimer")
    page.click("#summary a.cite")
    assert page.evaluate("location.hash") == "#ref-1"
    assert page.evaluate("document.querySelector(':target').id") == "ref-1"


def test_sections_cited_works_and_source_brackets_stay_text(evidence_url, page):
    page.goto(evidence_url + "/")
    page.fill("#question", EVIDENCE_QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])", timeout=10_000)
    # markers only from the number lists: one link after the summary, none made of "G1P[8]" or "[2, 3]"
    assert page.text_content("#summary") == "The G1P[8] strain was found in adults admitted with buttock pain and fever.[1]"
    assert page.locator("#summary a").all_text_contents() == ["[1]"]
    assert page.locator("#sections h3").all_text_contents() == [
        "Treatment", "Which spinal conditions cause buttock pain?", "Diagnosis"]
    bracketed = page.locator("#sections li", has_text="sacroiliac joint [2, 3].")
    assert bracketed.text_content() == ("Pain on sitting that is worse than pain on standing points to the "
                                        "sacroiliac joint [2, 3].[2]")
    assert bracketed.locator("a").all_text_contents() == ["[2]"]
    assert page.locator("a.cite").all_text_contents() == ["[1]", "[2]", "[2]", "[2]", "[2]"]
    assert page.locator("a[href='#ref-3']").count() == 0
    assert page.text_content("#uncovered") == "The indexed sources do not address: yoga."
    # the review: badge, authors, journal, year, pages, DOI link, and the resolved cited work with its links
    review = page.locator("#ref-2")
    assert review.locator(".badge").text_content() == "review"
    assert review.locator(".ref-meta").text_content() == (
        "R. Reviewer, S. Second · Pain Rev · 2021 · pp. 2, 3, 4 · doi:10.1000/pr.2021.7")
    assert review.locator("a.ref-title").get_attribute("href") == "https://doi.org/10.1000/pr.2021.7"
    assert review.locator(".cited-work span").text_content() == (
        "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389(10070):736-47.")
    assert [a.get_attribute("href") for a in review.locator(".cited-work a").all()] == [
        "https://doi.org/10.1016/S0140-6736(16)30970-9", "https://pubmed.ncbi.nlm.nih.gov/27745712/"]
    # a reference with neither URL nor DOI has no link (it used to link to the page itself)
    assert page.locator("#ref-1 a.ref-title").count() == 0
    assert page.text_content("#ref-1 .ref-title") == "Rotavirus genotypes in adults with back pain"
    assert page.locator("#related li a").all_text_contents() == ["Which spinal conditions cause buttock pain?"]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_abstention_and_error_states(server_url, page):
    page.goto(server_url + "/")
    page.fill("#question", "please abstain")
    page.click("#ask-button")
    page.wait_for_selector("#abstained-note:not([hidden])", timeout=10_000)
    assert "abstained" in page.get_attribute("#answer", "class")
    assert page.locator("#sections li").count() == 0
    assert page.text_content("#references-title") == "Nearest sources"
    page.fill("#question", "x" * 2000 + "y")  # maxlength keeps the box at 2,000; send the long one directly
    page.evaluate("ask('x'.repeat(2001))")
    page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    assert page.text_content("#error-detail") == "question must be at most 2,000 characters (got 2,001)"
    assert page.is_hidden("#answer")
    page.screenshot(path=str(OUTPUT / "browser-error.png"), full_page=True)
