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

// Only web links become hrefs, so a source cannot smuggle in a javascript: URL; no URL at all gives no link
// (an empty string would resolve to this very page).
function safeUrl(url) {
  if (!url || !String(url).trim()) return null;
  try {
    const u = new URL(String(url).trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) {
    return null;
  }
}

function doiUrl(doi) {
  return doi ? safeUrl("https://doi.org/" + encodeURIComponent(String(doi).trim()).replace(/%2F/g, "/")) : null;
}

function pubmedUrl(pmid) {
  return /^\d+$/.test(String(pmid || "").trim()) ? "https://pubmed.ncbi.nlm.nih.gov/" + String(pmid).trim() + "/" : null;
}

function externalLink(text, href, cls) {
  const a = el("a", text, cls);
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  return a;
}

// Markers come only from a number list; the text beside them is only ever a text node.
function withCitations(parent, text, numbers) {
  parent.appendChild(document.createTextNode(text || ""));
  (numbers || []).forEach((n) => parent.appendChild(citeLink(n)));
}

function pagesText(ref) {
  const pages = (ref.pages && ref.pages.length) ? ref.pages : (ref.page !== null && ref.page !== undefined ? [ref.page] : []);
  if (!pages.length) return "";
  return (pages.length === 1 ? "p. " : "pp. ") + pages.join(", ");
}

function renderCitedWork(work) {
  const li = el("li", null, "cited-work");
  li.appendChild(el("span", work.text));
  const doi = doiUrl(work.doi);
  if (doi) { li.appendChild(document.createTextNode(" ")); li.appendChild(externalLink("DOI", doi, "work-link")); }
  const pubmed = pubmedUrl(work.pmid);
  if (pubmed) { li.appendChild(document.createTextNode(" ")); li.appendChild(externalLink("PubMed", pubmed, "work-link")); }
  return li;
}

function renderReference(ref) {
  const li = el("li");
  li.id = "ref-" + ref.number;
  li.value = ref.number;
  if (ref.type) li.appendChild(el("span", ref.type, "badge"));
  const href = safeUrl(ref.url) || doiUrl(ref.doi);
  const titleText = ref.title || ref.source || ref.doc_id;
  li.appendChild(href ? externalLink(titleText, href, "ref-title") : el("span", titleText, "ref-title"));
  const meta = [];
  if (ref.authors && ref.authors.length) meta.push(ref.authors.join(", "));
  if (ref.journal) meta.push(ref.journal);
  if (ref.year) meta.push(String(ref.year));
  if (pagesText(ref)) meta.push(pagesText(ref));
  if (ref.doi) meta.push("doi:" + ref.doi);
  if (meta.length) li.appendChild(el("div", meta.join(" · "), "ref-meta"));
  const works = ref.cited_works || [];
  if (works.length) {
    const cites = el("div", null, "cites");
    cites.appendChild(el("span", "Cites:", "cites-label"));
    const list = el("ul", null, "cited-works");
    works.forEach((w) => list.appendChild(renderCitedWork(w)));
    cites.appendChild(list);
    li.appendChild(cites);
  }
  (ref.passages || []).forEach((p) => {
    const details = el("details");
    details.appendChild(el("summary", "passage" + (p.page ? " (p. " + p.page + ")" : "")));
    details.appendChild(el("blockquote", p.text));
    li.appendChild(details);
  });
  return li;
}

// Consecutive points with the same section, as [{section, points}] in answer order.
function groupSections(points) {
  const groups = [];
  (points || []).forEach((p) => {
    const section = p.section || null;
    if (groups.length && groups[groups.length - 1].section === section) groups[groups.length - 1].points.push(p);
    else groups.push({section: section, points: [p]});
  });
  return groups;
}

function renderSections(container, points) {
  container.replaceChildren();
  groupSections(points).forEach((g) => {
    const section = el("section", null, "answer-section");
    if (g.section) section.appendChild(el("h3", g.section, "section-heading"));
    const list = el("ul", null, "points");
    g.points.forEach((p) => {
      const li = el("li");
      withCitations(li, p.text, p.citations);
      list.appendChild(li);
    });
    section.appendChild(list);
    container.appendChild(section);
  });
}

function renderAnswer(a) {
  const article = $("answer");
  article.classList.toggle("abstained", !!a.abstained);
  $("abstained-note").hidden = !a.abstained;
  $("answer-question").textContent = a.question;
  const summary = $("summary");
  summary.replaceChildren();
  withCitations(summary, a.summary, a.summary_citations);
  const uncovered = a.uncovered || [];
  $("uncovered").textContent = uncovered.length ? "The indexed sources do not address: " + uncovered.join(", ") + "." : "";
  $("uncovered").hidden = !uncovered.length;
  renderSections($("sections"), a.points);
  const refs = $("references");
  refs.replaceChildren();
  (a.references || []).forEach((r) => refs.appendChild(renderReference(r)));
  $("references-title").textContent = a.abstained ? "Nearest sources" : "References";
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
