"""`medcite eval --report` in a real headless Chromium: tables, sorting, filtering, a linked answer, escaping."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from browser_support import chromium_page
from eval.report import write_report
from eval.runner import run_eval
from index.embedder import FakeEmbedder

pytestmark = pytest.mark.browser
TINY = Path(__file__).parent / "data" / "tiny-answers"
ROOT = Path(__file__).resolve().parents[1]
# the README's screenshot is rewritten only on request: its timings differ on every run, and a binary file
# that every test run modifies would dirty every checkout (and conflict on every rebase)
SCREENSHOT = (ROOT / "docs" if os.environ.get("MEDCITE_UPDATE_SCREENSHOTS") else ROOT / "test-output") / "eval-report.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The tiny set evaluated with the default fusion, then with alpha=1 against it, as an HTML report."""
    out = tmp_path_factory.mktemp("report")
    kw = dict(embedder=FakeEmbedder(), stdout=io.StringIO(), progress=False)
    run_eval(TINY, out / "index", "bm25,dense,hybrid", None, out / "a.json", **kw)
    result = run_eval(TINY, out / "index", "bm25,dense,hybrid", None, out / "b.json", fusion="alpha=1.0",
                      baseline=out / "a.json", report=out / "b.html", **kw)
    return out / "b.html", result


@pytest.fixture(scope="module")
def page():
    yield from chromium_page(1400, 1100)


def column(page, name: str) -> list[str]:
    """The visible cells of the per-query table's column with that header."""
    heads = [h.strip() for h in page.locator("#queries thead th").all_text_contents()]
    i = heads.index(name) + 1
    return page.locator(f"#queries tbody tr:not([hidden]) td:nth-child({i})").all_text_contents()


def test_report_tables_sorting_filtering_and_a_linked_answer(report, page):
    path, result = report
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    # the retrieval and answer tables carry the JSON's numbers
    rows = page.locator("#retrieval-table tbody tr")
    assert [r.split("\t")[0] for r in rows.all_inner_texts()] == ["bm25", "dense", "hybrid"]
    assert page.text_content("#retrieval-table tbody tr:nth-child(3) td:nth-child(2)") == \
        f"{result['retrievers']['hybrid']['nDCG@10']:.4f}"
    rouge_row = page.locator("#answer-table tbody tr", has_text="rouge2_r").inner_text().split("\t")
    q = result["answer_quality"]
    assert rouge_row == ["rouge2_r", f"{q['rouge2_r']:.4f}", f"{q['lead_rouge2_r']:.4f}"]
    assert page.locator("#recall-curves polyline").count() == 6  # three retrievers, and the baseline's dashed
    assert page.locator("#comparison-table tbody tr").count() == len(result["comparison"]["measures"])
    # filter: two questions mention gout
    assert page.text_content("#shown") == "8"
    page.fill("#filter", "gout")
    assert page.text_content("#shown") == "2"
    assert sorted(column(page, "id")) == ["q-gout", "q-nogold"]
    page.fill("#filter", "")
    # sort by ROUGE-2 recall: ascending, then descending with the best answer first
    page.click("#queries th:text-is('rouge2_r')")
    values = [v for v in column(page, "rouge2_r") if v != "-"]
    assert values == sorted(values)
    page.click("#queries th:text-is('rouge2_r')")
    assert page.get_attribute("#queries th:text-is('rouge2_r')", "aria-sort") == "descending"
    best = max(q["per_query"], key=lambda k: q["per_query"][k]["rouge2_r"])
    assert column(page, "id")[0] == best == "q-gout"
    # follow the question's link to its answer and gold answer
    page.click("#queries tbody tr:first-child td:nth-child(2) a")
    anchor = page.evaluate("location.hash")
    article = page.locator(f"article{anchor}")
    assert article.is_visible()
    assert article.locator("h3").inner_text().startswith("Which medicine helps prevent gout attacks?")
    record = q["per_query"]["q-gout"]
    summary = article.locator("p.summary").inner_text()
    assert summary.startswith("Summary: " + record["answer"]["summary"]) and "[1]" in summary
    assert article.locator("li.point").count() == len(record["answer"]["points"])
    assert article.locator("ol.references li").count() == len(record["answer"]["references"])
    assert record["ideal"] in article.locator("div.gold").inner_text()
    assert errors == []


def test_untrusted_text_is_shown_never_run(report, page, tmp_path):
    _, result = report
    evil = json.loads(json.dumps(result))
    qid = next(iter(evil["answer_quality"]["per_query"]))
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    evil["per_query"]["questions"][qid] = payload
    evil["answer_quality"]["per_query"][qid]["ideal"] = "</div><script>window.pwned=3</script>"
    evil["answer_quality"]["per_query"][qid]["answer"]["references"] = [
        {"number": 1, "title": "t", "url": "javascript:window.pwned=4"}]
    write_report(evil, tmp_path / "evil.html")
    page.goto((tmp_path / "evil.html").as_uri())
    page.click("#queries tbody tr:first-child td:nth-child(2) a")
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("#queries tbody tr:first-child td:nth-child(2)").inner_text() == payload
    assert page.locator("article ol.references a").count() == 0
