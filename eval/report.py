"""`medcite eval --report FILE.html`: one self-contained page (inline CSS, JS and SVG; nothing from the network).

Everything taken from the dataset, the answers or the index (questions, answers, titles, ids, URLs) is
untrusted: it is HTML-escaped where it is written, element ids are our own counters (never dataset ids),
links are only http(s) URLs, and the script reads the page's DOM, never data as code.
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from eval.answer_quality import ANSWER_MEASURES, LEAD_OF

# the per-query table's answer columns (means are in the answer table)
ANSWER_COLUMNS = ("summary_gold", "point_prec", "snip_recall", "rouge2_r", "rouge2_p", "lead_rouge2_r")
CURVE_WIDTH, CURVE_HEIGHT, CURVE_MARGIN = 440, 300, 44  # plot size in px, and room for the axes' labels
LEGEND_WIDTH = 170  # px right of the plot for the legend
# distinguishable on white and for common colour-vision deficiencies (Okabe & Ito's palette)
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
SAFE_SCHEMES = ("http://", "https://")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;color:#1b1b1b}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}.meta{color:#555}
table{border-collapse:collapse;margin:6px 0 10px}th,td{padding:3px 8px;border-bottom:1px solid #e5e5e5;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.text,th.text{text-align:left}th{background:#f4f4f4;position:sticky;top:0;white-space:nowrap}
#queries th{cursor:pointer;user-select:none}#queries th[aria-sort=ascending]::after{content:" \\25B2"}
#queries th[aria-sort=descending]::after{content:" \\25BC"}#queries td.text{max-width:520px}#queries th:nth-child(2){text-align:left}
.up{color:#006d2c}.down{color:#b30000}.sig{font-weight:600}.muted{color:#777}
.answer{border:1px solid #ddd;border-radius:6px;padding:8px 14px;margin:10px 0}.answer:target{border-color:#0072B2;box-shadow:0 0 0 3px #cfe3f5}
.gold{background:#f6faf2;border-left:3px solid #3c8d2f;padding:4px 10px}.lead{background:#f7f7f7;border-left:3px solid #999;padding:4px 10px}
.cite{font-size:11px;vertical-align:super;color:#0072B2}.violations{color:#b30000}
#filter{padding:4px 8px;width:320px}.row{display:flex;flex-wrap:wrap;gap:8px 48px;align-items:flex-start}.row>section{max-width:640px}svg text{font:11px system-ui,sans-serif}
"""

SCRIPT = """
(function(){
  var table=document.getElementById('queries');if(!table)return;
  var body=table.tBodies[0],heads=table.tHead.rows[0].cells;
  function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.toLowerCase():(v===''?NaN:parseFloat(v));}
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=key(a.cells[col]),y=key(b.cells[col]);
        if(typeof x==='number'&&isNaN(x))return 1;if(typeof y==='number'&&isNaN(y))return -1;
        return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  var input=document.getElementById('filter'),count=document.getElementById('shown');
  function filter(){
    var words=input.value.toLowerCase().split(/\\s+/).filter(Boolean),n=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var text=r.textContent.toLowerCase(),show=words.every(function(w){return text.indexOf(w)>=0;});
      r.hidden=!show;if(show)n++;});
    count.textContent=n;
  }
  input.addEventListener('input',filter);filter();
})();
"""


def esc(value: Any) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any, digits: int = 4) -> str:
    """A score as text ("-" when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def cell(value: Any, digits: int = 4, css: str = "") -> str:
    """A numeric table cell whose data-v attribute sorts it."""
    sortable = "" if value is None else str(float(value))
    klass = f' class="{css}"' if css else ""
    return f'<td data-v="{esc(sortable)}"{klass}>{esc(number(value, digits))}</td>'


def link(url: Any, text: Any) -> str:
    """A link when the URL is http(s), else just the text (no javascript: or data: URLs from datasets)."""
    if isinstance(url, str) and url.lower().startswith(SAFE_SCHEMES):
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(text)}</a>'
    return esc(text)


def table(head: Sequence[str], rows: Iterable[Sequence[str]], attrs: str = "") -> str:
    """A table from escaped header names and already-rendered row cells."""
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def retrieval_section(result: Mapping) -> str:
    """The retrieval table: one row per retriever, its measures and latencies."""
    retrievers = result.get("retrievers") or {}
    measures = list(next(iter(retrievers.values()), {}))
    per_query_ms = (result.get("time_per_query_ms") or {}).get("retrieval") or {}
    rows = []
    for name, scores in retrievers.items():
        lat = (result.get("latency_ms") or {}).get(name, {})
        rows.append([f"<td>{esc(name)}</td>", *(cell(scores.get(m)) for m in measures),
                     cell(lat.get("p50"), 1), cell(lat.get("p95"), 1), cell(per_query_ms.get(name), 1)])
    head = ["retriever", *measures, "p50 ms", "p95 ms", "mean ms"]
    return "<h2 id=retrieval>Retrieval</h2>" + table(head, rows, ' id="retrieval-table"')


def answer_section(result: Mapping) -> str:
    """The answer checks and the answer-quality table (answers against the lead baseline)."""
    parts = ["<h2 id=answers>Answers</h2>"]
    checks = result.get("answers") or {}
    if "faithfulness" in checks:
        parts.append(f"<p>{esc(checks['queries'])} judged questions: faithfulness {number(checks['faithfulness'])}, "
                     f"citation validity {number(checks['citation_validity'])}, abstention "
                     f"{number(checks['abstention_rate'])}, hit rate {number(checks['hit_rate'])}.</p>")
    quality = result.get("answer_quality")
    if not quality:
        parts.append("<p class=muted>No answers.jsonl in the dataset: no answer-quality figures.</p>")
        return "".join(parts)
    rows = [[f"<td>{esc(m)}</td>", cell(quality.get(m)), cell(quality.get(LEAD_OF[m])) if m in LEAD_OF else "<td></td>"]
            for m in ANSWER_MEASURES]
    rows += [["<td>abstained</td>", cell(quality.get("abstained")), "<td></td>"],
             ["<td>points per answer</td>", cell(quality.get("points"), 2), "<td></td>"]]
    parts.append(f"<p>{esc(quality['n'])} questions with gold answers; the lead baseline quotes the first two "
                 f"sentences of the top search hit. Contract violations: {esc(quality['contract_violations'])}.</p>")
    parts.append(table(["measure", "answer", "lead baseline"], rows, ' id="answer-table"'))
    return "".join(parts)


def _x(k: float, ks: Sequence[float]) -> float:
    """SVG x of cutoff k on a log axis."""
    lo, hi = math.log(min(ks)), math.log(max(ks))
    span = (hi - lo) or 1.0
    return CURVE_MARGIN + (math.log(k) - lo) / span * (CURVE_WIDTH - 2 * CURVE_MARGIN)


def _y(v: float) -> float:
    """SVG y of a recall value in [0, 1]."""
    return CURVE_HEIGHT - CURVE_MARGIN - v * (CURVE_HEIGHT - 2 * CURVE_MARGIN)


def curves_svg(curves: Mapping[str, Mapping[str, float]], baseline: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """Recall@k lines (log k axis) as inline SVG; the baseline's lines dashed."""
    series = [(name, curve, False) for name, curve in curves.items()]
    series += [(f"{name} (baseline)", curve, True) for name, curve in (baseline or {}).items()]
    ks = sorted({int(k) for _, c, _ in series for k in c})
    if not ks:
        return ""
    out = [f'<svg id="recall-curves" xmlns="http://www.w3.org/2000/svg" width="{CURVE_WIDTH + LEGEND_WIDTH}" '
           f'height="{CURVE_HEIGHT}" '
           f'role="img" aria-label="recall at k">']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{CURVE_MARGIN}" x2="{CURVE_WIDTH - CURVE_MARGIN}" y1="{_y(v):.1f}" y2="{_y(v):.1f}" '
                   f'stroke="#e5e5e5"/><text x="{CURVE_MARGIN - 6}" y="{_y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for k in ks:
        out.append(f'<text x="{_x(k, ks):.1f}" y="{CURVE_HEIGHT - CURVE_MARGIN + 16}" text-anchor="middle">{k}</text>')
    out.append(f'<text x="{CURVE_WIDTH / 2}" y="{CURVE_HEIGHT - 10}" text-anchor="middle">k (documents retrieved)</text>')
    out.append(f'<text x="14" y="{CURVE_HEIGHT / 2}" transform="rotate(-90 14 {CURVE_HEIGHT / 2})" '
               f'text-anchor="middle">recall@k</text>')
    for i, (name, curve, dashed) in enumerate(series):
        colour = COLOURS[(i % len(curves) if dashed and curves else i) % len(COLOURS)]
        pts = " ".join(f"{_x(int(k), ks):.1f},{_y(float(v)):.1f}" for k, v in sorted(curve.items(), key=lambda kv: int(kv[0])))
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{pts}"><title>{esc(name)}'
                   f'</title></polyline>')
        y = CURVE_MARGIN + 4 + 16 * i
        out.append(f'<line x1="{CURVE_WIDTH}" x2="{CURVE_WIDTH + 20}" y1="{y}" y2="{y}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/><text x="{CURVE_WIDTH + 26}" y="{y + 4}">{esc(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def comparison_section(comparison: Mapping, anchors: Mapping[str, str]) -> str:
    """Per-measure deltas with significance marks, then the most improved and worsened queries."""
    rows = []
    for m in comparison.get("measures") or []:
        mark = "**" if m["p_holm"] < 0.01 else "*" if m["p_holm"] < 0.05 else ""
        trend = "up" if m["delta"] > 0 else "down" if m["delta"] < 0 else ""
        rows.append([f"<td>{esc(m['measure'])}</td>", cell(m["n"], 0), cell(m["a"]), cell(m["b"]),
                     f'<td class="{trend}{" sig" if mark else ""}" data-v="{m["delta"]}">{m["delta"]:+.4f}{esc(mark)}</td>',
                     cell(m["p"]), cell(m["p_holm"])])
    parts = [f"<h2 id=comparison>Comparison: {esc(comparison.get('b'))} against {esc(comparison.get('a'))}</h2>",
             f"<p>{esc(comparison.get('test'))}. <span class=sig>*</span> Holm-adjusted p &lt; 0.05, "
             f"<span class=sig>**</span> p &lt; 0.01.</p>",
             table(["measure", "n", "A", "B", "delta", "p", "p (Holm)"], rows, ' id="comparison-table"')]
    for measure, change in (comparison.get("changes") or {}).items():
        for label, key in (("Most improved", "improved"), ("Most worsened", "worsened")):
            items = "".join(f'<li><span class="{"up" if c["delta"] > 0 else "down"}">{c["delta"]:+.4f}</span> '
                            f'({number(c["a"])} &rarr; {number(c["b"])}) {_question_link(c["query_id"], c["question"], anchors)}</li>'
                            for c in change[key]) or "<li class=muted>none</li>"
            parts.append(f"<h3>{esc(label)} on {esc(measure)}</h3><ol>{items}</ol>")
    return "".join(parts)


def _question_link(qid: str, question: str, anchors: Mapping[str, str]) -> str:
    """The question, linked to its answer when the report shows one."""
    anchor = anchors.get(qid)
    text = esc(question or qid)
    return f'<a href="#{anchor}">{text}</a>' if anchor else text


def anchors_of(result: Mapping) -> dict[str, str]:
    """query id -> element id of its answer ("a1", "a2", ...: our own ids, never the dataset's)."""
    answered = ((result.get("answer_quality") or {}).get("per_query") or {})
    return {qid: f"a{i}" for i, qid in enumerate(answered, 1)}


def queries_section(result: Mapping, anchors: Mapping[str, str]) -> str:
    """One row per query: retrieval scores, answer figures, deltas against the baseline; sortable, filterable."""
    per_query = result.get("per_query") or {}
    questions = per_query.get("questions") or {}
    retrieval = per_query.get("retrievers") or {}
    first = {name: next(iter(next(iter(scores.values()), {})), None) for name, scores in retrieval.items()}
    answers = (result.get("answer_quality") or {}).get("per_query") or {}
    deltas = (result.get("comparison") or {}).get("deltas") or {}
    head = ["id", "question", *(f"{n} {m}" for n, m in first.items() if m), *(ANSWER_COLUMNS if answers else ()),
            *(("abstained", "violations", "answer ms") if answers else ()), *(f"Δ {m}" for m in deltas)]
    rows = []
    for qid, question in questions.items():
        a = answers.get(qid, {})
        row = [f'<td class="text">{esc(qid)}</td>', f'<td class="text">{_question_link(qid, question, anchors)}</td>']
        row += [cell(retrieval[n].get(qid, {}).get(m)) for n, m in first.items() if m]
        if answers:
            row += [cell(_num(a.get(c))) for c in ANSWER_COLUMNS]
            row += [cell(_num(a.get("abstained")), 0), cell(len(a["violations"]) if a else None, 0),
                    cell(a.get("answer_ms"), 1)]
        row += [_delta_cell(deltas[m].get(qid)) for m in deltas]
        rows.append(row)
    return ("<h2 id=per-query>Per query</h2><p><label>Filter: <input id=filter type=search "
            "placeholder=\"words in the id or question\"></label> <span id=shown></span> of "
            f"{len(rows)} queries shown; click a column to sort.</p>"
            + table(head, rows, ' id="queries"'))


def _num(value: Any) -> float | None:
    """Booleans as 0/1, numbers as they are, None kept."""
    return None if value is None else float(value)


def _delta_cell(delta: float | None) -> str:
    """A signed, coloured difference cell."""
    if delta is None:
        return cell(None)
    trend = "up" if delta > 0 else "down" if delta < 0 else ""
    return f'<td class="{trend}" data-v="{delta}">{delta:+.4f}</td>'


def _markers(numbers: Iterable[int]) -> str:
    """Citation numbers as superscript markers."""
    return "".join(f'<span class="cite">[{esc(n)}]</span>' for n in numbers)


def source_name(source: Any) -> str:
    """A reference's source as the report shows it: a URL as it is, a file by its name (no server paths)."""
    text = str(source or "")
    return text if text.lower().startswith(SAFE_SCHEMES) else Path(text).name


def answer_article(qid: str, anchor: str, question: str, record: Mapping) -> str:
    """One question's answer (summary, points, references), its gold answer and the lead baseline."""
    ans = record.get("answer") or {}
    parts = [f'<article class="answer" id="{anchor}"><h3>{esc(question)} <span class="muted">({esc(qid)})</span></h3>']
    if ans.get("abstained"):
        parts.append(f'<p class="summary"><em>Abstained:</em> {esc(ans.get("summary"))}</p>')
    else:
        parts.append(f'<p class="summary"><strong>Summary:</strong> {esc(ans.get("summary"))}'
                     f'{_markers(ans.get("summary_citations") or [])}</p>')
    section, items = None, []
    for p in ans.get("points") or []:
        if p.get("section") and p.get("section") != section:
            section = p["section"]
            items.append(f'<li class="section"><strong>{esc(section)}</strong></li>')
        items.append(f'<li class="point">{esc(p.get("text"))}{_markers(p.get("citations") or [])}</li>')
    if items:
        parts.append(f'<ul class="points">{"".join(items)}</ul>')
    refs = "".join(f'<li value="{int(r.get("number", 0))}">{link(r.get("url"), r.get("title") or r.get("doc_id"))}'
                   f' <span class="muted">{esc(source_name(r.get("source")))}</span></li>' for r in ans.get("references") or [])
    if refs:
        parts.append(f'<h4>References</h4><ol class="references">{refs}</ol>')
    if ans.get("uncovered"):
        parts.append(f'<p class="muted">Not covered: {esc(", ".join(map(str, ans["uncovered"])))}</p>')
    parts.append(f'<div class="gold"><strong>Gold answer:</strong> {esc(record.get("ideal"))}'
                 + (f'<br><strong>Exact:</strong> {esc("; ".join(record["exact"]))}' if record.get("exact") else "")
                 + "</div>")
    if record.get("lead") is not None:
        parts.append(f'<div class="lead"><strong>Lead baseline:</strong> {esc(record["lead"])}</div>')
    scores = ", ".join(f"{m} {number(_num(record.get(m)))}" for m in ANSWER_MEASURES)
    parts.append(f'<p class="muted">{esc(scores)}</p>')
    if record.get("violations"):
        parts.append('<ul class="violations">' + "".join(f"<li>{esc(v)}</li>" for v in record["violations"]) + "</ul>")
    parts.append('<p><a href="#per-query">back to the table</a></p></article>')
    return "".join(parts)


def answers_section(result: Mapping, anchors: Mapping[str, str]) -> str:
    """Every answered question's answer article."""
    answers = (result.get("answer_quality") or {}).get("per_query") or {}
    questions = (result.get("per_query") or {}).get("questions") or {}
    if not answers:
        return ""
    return "<h2 id=answer-details>Answers and gold answers</h2>" + "".join(
        answer_article(qid, anchors[qid], questions.get(qid, qid), rec) for qid, rec in answers.items())


def header(result: Mapping) -> str:
    """Title, dataset and run settings."""
    ds = result.get("dataset") or {}
    fusion = (result.get("index") or {}).get("fusion") or ((result.get("index") or {}).get("settings") or {}).get("fusion")
    options = result.get("options") or {}
    lines = [f"<h1>medcite evaluation: {esc(Path(str(ds.get('path', ''))).name)}</h1>",
             f"<p class=meta>{esc(ds.get('documents'))} documents, {esc(ds.get('queries'))} judged queries, "
             f"{esc(ds.get('qrels'))} judgments; model {esc(result.get('model'))}; "
             f"{esc((result.get('index') or {}).get('chunks'))} chunks.</p>"]
    if fusion:
        lines.append(f"<p class=meta>Hybrid fusion: {esc(', '.join(f'{k}={v}' for k, v in fusion.items()))}"
                     + (f" (set for this run: {esc(', '.join(f'{k}={v}' for k, v in options['fusion'].items()))})"
                        if options.get("fusion") else "") + "</p>")
    return "".join(lines)


def side_by_side(sections: Sequence[str]) -> str:
    """Sections next to each other when the window is wide enough, stacked otherwise."""
    return '<div class="row">' + "".join(f"<section>{s}</section>" for s in sections) + "</div>"


def script_hash() -> str:
    """The CSP hash of the page's one script: nothing else may run, even if escaping ever failed."""
    return "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")


def render_report(result: Mapping) -> str:
    """The whole report page as one HTML string."""
    anchors = anchors_of(result)
    curves = curves_svg(result.get("recall_curves") or {}, (result.get("comparison") or {}).get("a_recall_curves"))
    first = [retrieval_section(result)] + (["<h2 id=curves>Recall@k</h2>" + curves] if curves else [])
    second = [answer_section(result)]
    if result.get("comparison"):
        second.append(comparison_section(result["comparison"], anchors))
    body = [header(result), side_by_side(first), side_by_side(second), queries_section(result, anchors),
            answers_section(result, anchors)]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src '{script_hash()}'; img-src data:\">"
            f"<title>medcite evaluation</title><style>{CSS}</style></head><body>{''.join(body)}"
            f"<script>{SCRIPT}</script></body></html>\n")


def write_report(result: Mapping, path: Path) -> Path:
    """Write the report page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result), encoding="utf-8")
    return path
