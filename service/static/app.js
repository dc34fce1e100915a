// The question page: POST /ask and render the answer as an evidence page.
// Source text is untrusted: everything goes in through textContent, never innerHTML.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function citeLink(n) {
  const a = el("a", "[" + n + "]", "cite");
  a.href = "#ref-" + n;
  a.setAttribute("aria-label", "reference " + n);
  return a;
}

// Only web links become hrefs, so a source cannot smuggle in a javascript: URL.
function safeUrl(url) {
  try {
    const u = new URL(url, window.location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) {
    return null;
  }
}

// "text [1, 3]" -> text nodes and one link per number.
function withMarkers(parent, text) {
  const re = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    m[1].split(",").forEach((n) => parent.appendChild(citeLink(n.trim())));
    last = re.lastIndex;
  }
  parent.appendChild(document.createTextNode(text.slice(last)));
}

function renderReference(ref) {
  const li = el("li");
  li.id = "ref-" + ref.number;
  li.value = ref.number;
  if (ref.type) li.appendChild(el("span", ref.type, "badge"));
  const href = safeUrl(ref.url || "") || (ref.doi ? safeUrl("https:" + "//doi.org/" + ref.doi) : null);
  const title = el(href ? "a" : "span", ref.title || ref.source || ref.doc_id, "ref-title");
  if (href) { title.href = href; title.rel = "noopener noreferrer"; title.target = "_blank"; }
  li.appendChild(title);
  const meta = [];
  if (ref.authors && ref.authors.length) meta.push(ref.authors.join(", "));
  if (ref.journal) meta.push(ref.journal);
  if (ref.year) meta.push(String(ref.year));
  if (ref.page !== null && ref.page !== undefined) meta.push("p. " + ref.page);
  if (ref.doi) meta.push("doi:" + ref.doi);
  if (meta.length) li.appendChild(el("div", meta.join(" · "), "ref-meta"));
  (ref.passages || []).forEach((p) => {
    const details = el("details");
    details.appendChild(el("summary", "passage" + (p.page ? " (p. " + p.page + ")" : "")));
    details.appendChild(el("blockquote", p.text));
    li.appendChild(details);
  });
  return li;
}

function renderAnswer(a) {
  const article = $("answer");
  article.classList.toggle("abstained", !!a.abstained);
  $("abstained-note").hidden = !a.abstained;
  $("answer-question").textContent = a.question;
  const summary = $("summary");
  summary.replaceChildren();
  withMarkers(summary, a.summary || "");
  const points = $("points");
  points.replaceChildren();
  (a.points || []).forEach((p) => {
    const li = el("li", p.text);
    (p.citations || []).forEach((n) => li.appendChild(citeLink(n)));
    points.appendChild(li);
  });
  const refs = $("references");
  refs.replaceChildren();
  (a.references || []).forEach((r) => refs.appendChild(renderReference(r)));
  $("references-section").hidden = !(a.references || []).length;
  const related = $("related");
  related.replaceChildren();
  (a.related_questions || []).forEach((q) => {
    const link = el("a", q);
    link.href = "?q=" + encodeURIComponent(q);
    link.addEventListener("click", (ev) => { ev.preventDefault(); $("question").value = q; ask(q); });
    const li = el("li");
    li.appendChild(link);
    related.appendChild(li);
  });
  $("related-section").hidden = !(a.related_questions || []).length;
  $("disclaimer").textContent = a.disclaimer || "";
  const t = a.timings_ms || {};
  $("timings").textContent = t.total !== undefined ? "answered in " + Math.round(t.total) + " ms" : "";
  article.hidden = false;
}

function showError(detail) {
  $("answer").hidden = true;
  $("error-detail").textContent = detail;
  $("error").hidden = false;
}

function filters() {
  const types = Array.from(document.querySelectorAll("input[name=type]:checked")).map((i) => i.value);
  const f = {};
  if (types.length) f.type = types;
  const lo = parseInt($("year-min").value, 10), hi = parseInt($("year-max").value, 10);
  if (!Number.isNaN(lo)) f.year_min = lo;
  if (!Number.isNaN(hi)) f.year_max = hi;
  return Object.keys(f).length ? f : undefined;
}

async function ask(question) {
  const button = $("ask-button");
  button.disabled = true;
  $("error").hidden = true;
  $("status").textContent = "Searching the sources…";
  history.replaceState(null, "", "?q=" + encodeURIComponent(question));
  try {
    const resp = await fetch("/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({question: question, filters: filters()}),
    });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const detail = body && body.detail ? String(body.detail) : "HTTP " + resp.status;
      showError(resp.status === 503 ? detail + " (try again in a moment)" : detail);
      $("status").textContent = "";
      return;
    }
    renderAnswer(body);
    $("status").textContent = body.abstained ? "No answer in the indexed sources." : "";
  } catch (e) {
    showError("The server could not be reached: " + e.message);
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

$("ask-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (!q) { showError("Type a question first."); return; }
  ask(q);
});

$("question").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("ask-form").requestSubmit(); }
});

const initial = new URLSearchParams(window.location.search).get("q");
if (initial) { $("question").value = initial; ask(initial); }
