"""eval/report.py without a browser: one self-contained page, dataset text escaped, only http(s) links."""
from __future__ import annotations

import base64
import hashlib
import re

from eval.report import SCRIPT, curves_svg, render_report


def result(question: str, ideal: str = "Gold.", url: str = "https://example.org/a") -> dict:
    """The smallest eval output with one answered question."""
    return {
        "dataset": {"path": "/data/x", "documents": 1, "queries": 1, "qrels": 1}, "model": "m",
        "index": {"chunks": 1, "settings": {}},
        "retrievers": {"bm25": {"RR@10": 1.0}}, "latency_ms": {"bm25": {"p50": 1.0, "p95": 2.0, "p99": 3.0}},
        "recall_curves": {"bm25": {"1": 0.5, "10": 1.0}},
        "per_query": {"questions": {"q<1>": question}, "retrievers": {"bm25": {"q<1>": {"RR@10": 1.0}}}},
        "answer_quality": {
            "n": 1, "contract_violations": 0, "summary_gold": 1.0, "rouge2_r": 0.5, "lead_rouge2_r": 0.25,
            "per_query": {"q<1>": {
                "summary_gold": True, "rouge2_r": 0.5, "abstained": False, "violations": [], "answer_ms": 3.0,
                "ideal": ideal, "exact": [], "lead": "Lead.",
                "answer": {"abstained": False, "summary": "S.", "summary_citations": [1],
                           "points": [{"text": "P.", "citations": [1], "section": "Treatment"}],
                           "references": [{"number": 1, "title": "T & U", "url": url,
                                           "source": "/srv/data/corpus.jsonl"}]}}},
        },
    }


def test_everything_from_the_dataset_is_escaped():
    page = render_report(result('<img src=x onerror="alert(1)">', ideal="</div><script>alert(2)</script>",
                                url="javascript:alert(3)"))
    assert "<img" not in page and "alert(2)</script>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;/div&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "javascript:" not in page and '<li value="1">T &amp; U <span' in page  # text, no link
    # element ids are our own counters, never the dataset's ids
    assert 'id="a1"' in page and 'href="#a1"' in page and "q&lt;1&gt;" in page
    assert page.count("<script>") == 1


def test_page_is_self_contained_and_only_its_own_script_may_run():
    page = render_report(result("Does aspirin reduce fever?"))
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.replace('href="https://example.org/a"', ""))
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page and "default-src 'none'" in page
    assert f"<script>{SCRIPT}</script>" in page
    assert '<a href="https://example.org/a" rel="noopener noreferrer">T &amp; U</a>' in page
    assert "corpus.jsonl" in page and "/srv/data" not in page  # a file source by its name, never a server path


def test_recall_curves_are_inline_svg_on_a_log_axis():
    svg = curves_svg({"bm25": {"1": 0.0, "10": 0.5, "100": 1.0}})
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    xs = [float(p.split(",")[0]) for p in points]
    ys = [float(p.split(",")[1]) for p in points]
    assert xs[1] - xs[0] == xs[2] - xs[1]  # 1, 10, 100 equally spaced on a log axis
    assert ys[0] > ys[1] > ys[2]  # higher recall is drawn higher
    assert curves_svg({}) == ""
