"""Stage 4 of the answer path: choose the summary and the points, or abstain.

From the scored candidates: every quotable span is a sentence that stands alone, or a sentence that leans
on the one before it together with that one (one verbatim span of one chunk); a study's set-up is quoted
only with the result after it. The summary is the most probable span; points follow by probability
with near-duplicates and restatements skipped (maximal marginal relevance over the sentence vectors, and
content-term containment), and only from passages about the asked condition, phase and population and from
sections about the asked kind of question. A question whose key terms the retrieved
passages do not address abstains; one addressed in part lists the rest in `uncovered`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from service.answer_types import Pick, Selection
from service.candidates import FEATURES, Candidates, Sentence
from service.intent import CAUSE, question_intent
from service.scoring import Scored
from service.text import collapse, content_terms, similarity, stem, variant_of, words

# Calibrated by eval/abstention.py (MiniLM, medquad-dev vs tests/data/offtopic_questions.txt): the best
# chunk's cosine to the question below which the sources are taken not to be about it.
MIN_EVIDENCE = 0.40
# The idf-weighted share of a question part's topic terms that the retrieved passages must hold. On the
# default corpus the 12 questions it cannot answer reach at most 0.66 and the 20 it answers (13 README
# questions, 7 partly covered) 1.0 (tests/test_corpus_answers.py); on 300 questions each, 0.67 makes
# 3.0% of PubMedQA's and 5.7% of COVID-QA's abstain (0.75: 11% and 8%). The medquad-dev rate at each
# value is in the min_coverage table of `python -m eval.abstention --dataset DIR --index DIR`.
MIN_COVERAGE = 0.67
MAX_POINTS = 8
# Two spans whose sentence vectors are this close say the same thing: the second is not a new point.
# (all-MiniLM-L6-v2 paraphrases score above ~0.85; measured on the corpus answers with eval.fit_scorer --report)
DUPLICATE_COSINE = 0.9
# Term-set Jaccard above which a sentence of another document states the same as a pick: it is cited too.
AGREEMENT_SIMILARITY = 0.8
# The top-ranked document's best span is cited even below the point cut, but not when the scorer finds it
# this unlikely to answer. On 1,000 medquad-dev questions floors 0 and 0.2 cite the relevant document
# equally often (0.865), 0.35 less (0.862) (a one-off sweep when the rule was added); 0.2 keeps out what the
# scorer all but rules out.
TOP_DOCUMENT_FLOOR = 0.2
# A point whose content terms an earlier pick holds at least this share of restates it (one new term in ten
# at most: a number or a name more is a new fact).
NOTHING_NEW_SHARE = 0.9
# How much a point's probability counts against its redundancy with the points already chosen (MMR).
REDUNDANCY_WEIGHT = 0.3
# How much larger an idf-weighted share of an open question's key terms a span must name than the most probable
# span to displace it, when it is also closer in meaning (select.outranking_in_meaning): a tenth, about one
# term of a question with several. On 1,300 COVID-QA questions in process, exact answers inside the summary
# went 0.399 -> 0.408 at 0.1 (0.05 and 0.01: 0.410; 0.2: 0.405), and on the 90 labelled corpus questions
# summaries graded 0 went 8 -> 6. Yes/no questions are left out: on 400 PubMedQA questions summaries inside
# the gold conclusion fell 0.76 -> 0.58, as a study's objective restates its title's question.
KEY_TERMS_MARGIN = 0.1
# How close to the most probable span of the section headed by the question itself (select.asks_the_question)
# that section's opening span must come to be the summary. The point share (0.86) was used until session 14;
# 0.8 (0.7 and 0.75 alike) on the 90 labelled corpus questions turned one summary graded 0 into one graded 2
# ("Can lumbar facet joint pain be diagnosed from the history and examination?": "No single item in the
# history or examination reliably identifies facet joint pain.", 0.70 against 0.84) and "What are the
# treatment options for sacroiliac joint pain?" took the section's "First-line treatment is ..." over the MINT
# trial; at 0.6 "Can the hip joint cause buttock pain?" took the sacroiliac joint's pain map.
SECTION_LEAD_SHARE = 0.8
# How much further from an open question in meaning (sentence cosine) than the summary a sentence of the
# summary's document may be and still count as another statement of the answer, when it names as much of the
# question (select.as_on_point): it then needs only the point boundary, not the document's share. On 1,300
# COVID-QA questions in process, exact answers inside the whole answer went 0.523 -> 0.545 (slack 0: 0.532;
# 0.05: 0.538; 0.15: 0.549), and on the 90 labelled corpus questions points graded 2 went 84 -> 90 and graded 1
# 41 -> 56, with none more graded 0 (30). Yes/no questions are left out: on 400 PubMedQA questions point
# precision fell 0.436 -> 0.276, as a paper's results restate its question without answering it.
SUMMARY_COSINE_SLACK = 0.1
# A yes/no question about an intervention is not answered when no span the scorer rates at least this likely
# names the intervention (unnamed_subject). Below the point boundary (0.5), because the scorer rates a
# PubMedQA abstract's own sentences on its intervention as low as 0.45 ("Midurethral sling (MUS) can improve
# overactive bladder (OAB) symptoms."); "walking aids" in a physiotherapy sentence, for "Is walking good for
# sciatica?", scores 0.37.
SUBJECT_NAMED_FLOOR = 0.4

# Phases and populations a question can name: a passage naming only the other side is about something else.
# (Athletes and runners against older, osteoporotic patients, session 13: "What causes a sacral stress fracture in
# a runner?" was answered with osteoporotic fractures in older patients.)
_OPPOSITES: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (frozenset({"acute", "recent-onset", "sudden"}), frozenset({"chronic", "persistent", "long-standing"})),
    (frozenset({"child", "children", "paediatric", "pediatric", "infant", "infants", "adolescent", "adolescents"}),
     frozenset({"adult", "adults", "elderly", "older"})),
    (frozenset({"pregnancy", "pregnant"}), frozenset()),
    (frozenset({"athlete", "athletes", "runner", "runners", "sportsmen", "sportswomen"}),
     frozenset({"elderly", "older", "osteoporosis", "osteoporotic", "postmenopausal"})),
)
_WORD = re.compile(r"[a-z][a-z\-]+")


@dataclass(frozen=True)
class Span:
    """A quotable span of one chunk: one sentence, or a sentence with the one or two it leans on."""

    candidate: int  # index into Candidates.items of the sentence that earned the span
    start: int
    end: int
    text: str
    cites: tuple
    members: tuple[int, ...]  # the candidates it quotes, in text order (the earning one last)


def select(scored: Scored, *, max_points: int = MAX_POINTS, min_evidence: float = MIN_EVIDENCE,
           min_coverage: float = MIN_COVERAGE, point_threshold: float | None = None,
           point_share: float | None = None) -> Selection:
    """The summary and points of an answer, or an abstention with the reason's scores."""
    cands = scored.candidates
    hits = cands.retrieval.hits
    evidence = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    evidence = max(evidence, float(cands.features[:, 0].max()) if len(cands.items) else 0.0)
    missing = unaddressed_terms(cands, range(len(hits)))
    coverage = question_coverage(cands, missing)
    spans = quotable_spans(cands)
    usable = [i for i, s in enumerate(spans) if s is not None and on_topic(cands, i)]
    if not usable or evidence < min_evidence or coverage < min_coverage:
        return Selection(None, (), True, as_words(cands, missing), evidence, coverage)
    prob = span_probabilities(cands, spans, scored.probability)
    threshold, share = default_point_cut()
    threshold = point_threshold if point_threshold is not None else threshold
    share = point_share if point_share is not None else share
    # "Is walking good for sciatica?": when no likely span names the intervention asked about, the sources speak
    # of sciatica but not of walking, and quoting an epidural injection's advice would answer another question
    unnamed = unnamed_subject(cands, spans, usable, prob)
    if unnamed:
        return Selection(None, (), True, as_words(cands, missing | unnamed), evidence, coverage)
    # quote from documents that address the question as a whole, when some do (a shared word is not a topic)
    covering = covering_candidates(cands, min_coverage)
    usable = [i for i in usable if i in covering] or usable
    # ... and from sections about the asked kind of question, when some are: the summary of "What are the
    # symptoms of a sacral stress fracture in runners?" is not "Return to running is gradual and guided by
    # symptoms." from the section on managing it
    usable = [i for i in usable if not cands.intent.other_kind_of_section(heading_of(cands, i))] or usable
    best = max(preferred_summaries(cands, spans, usable, prob, share, threshold, min_coverage), key=lambda i: prob[i])
    # Another sentence of the summary's own document must come close to that document's most probable span: it
    # is usually a detail of the same passage (a study's method or one of its results) where the summary states
    # its conclusion. (Close to the summary itself, a summary a rule preferred over a more probable span let more
    # points through: on the 90 labelled corpus questions, points graded 0 went 27 -> 32; with the document's
    # best, 28.) Another document's sentence need only be more likely an answer than not: a second source is the
    # corroboration and breadth a clinician looks for. A list or an open comparison asks for several
    # statements, which one article makes side by side (the causes, the two sides): there the boundary decides;
    # so it does, for the places left, for a sentence of an open question's answer that is as much about the
    # question as the summary (as_on_point).
    summary_doc = doc_of(cands, best)
    document_best = max(float(prob[i]) for i in usable if doc_of(cands, i) == summary_doc)
    same_doc_cut = threshold if cands.intent.several else max(threshold, share * document_best)
    on_point = covering_chunks(cands, min_coverage)
    # a question about an intervention's effect: when the summary names the intervention, every point does too
    # ("Does acupuncture help low back pain?" gets no point on pregabalin or SSRIs)
    subject = subject_terms(cands)
    must_name = subject if names_any(spans[best], subject) else frozenset()
    pool = [i for i in usable if i != best
            and prob[i] >= (same_doc_cut if doc_of(cands, i) == summary_doc else threshold)
            and about_the_question(cands, i, summary_doc, on_point)
            and (not must_name or names_any(spans[i], must_name))]
    chosen = diverse_points(cands, spans, prob, best, pool, max_points)
    chosen = with_top_document(cands, spans, prob, best, usable, chosen, max_points)
    # further statements of the answer from the summary's document fill the places the others leave: they
    # never displace another source (on medquad-dev, taking them first crowded the judged passage out of 3
    # answers of 1,000)
    in_pool = set(pool)
    further = [i for i in usable if i != best and doc_of(cands, i) == summary_doc and i not in in_pool
               and prob[i] >= threshold and as_on_point(cands, i, best)
               and (not must_name or names_any(spans[i], must_name))]
    chosen += diverse_points(cands, spans, prob, best, further, max_points, already=tuple(chosen))
    summary = pick(cands, spans[best], float(prob[best]))
    points = tuple(pick(cands, spans[i], float(prob[i])) for i in chosen)
    # "The indexed sources do not address: X" must be true of the sources, not only of the quoted sentences
    return Selection(summary, points, False, as_words(cands, missing), evidence, coverage)


# A definition question is answered by a sentence defining the asked term, a comparison by one naming both
# sides, a list question by one enumerating: when such a sentence is quotable the summary is the most probable
# of them (the training sources hold few questions of these kinds, so the fitted weights alone do not carry
# the preference). A definition of the asked term (its subject is the term: "Deep gluteal syndrome is ...")
# always wins; naming both sides or listing things is weaker evidence of an answer, so such a sentence
# displaces a more probable one only when it comes as close to it as a point of the same document must.


def preferred_summaries(cands: Candidates, spans: list[Span | None], usable: list[int], prob: np.ndarray,
                        share: float, threshold: float, min_coverage: float = MIN_COVERAGE) -> list[int]:
    """The usable candidates that give the asked kind of answer outright (a definition of the asked term; then,
    within the section headed by the question itself when there is one, for an open question an accuracy
    figure or the top option asked for; a sentence naming both sides or enumerating, close to the most
    probable); else, for an open question, the close ones naming most of its key terms, for a question about
    what is advised the advice on the intervention, and for a yes/no question about an intervention those
    naming it; else all usable ones. ("Lower back pain above the buttocks is one of the most common kinds of
    low back pain" names both sides of "How does buttock pain differ from low back pain?" but does not answer
    it.)"""
    defining = [i for i in usable if cands.features[i, FEATURES.index("defines")] > 0]
    if defining:
        return defining
    # A section headed by the question itself ("How is hip osteoarthritis diagnosed?", a MedQuAD answer under its
    # question) is the source's own answer to it: the summary comes from there when one of its spans is more
    # likely an answer than not, however probable a sentence elsewhere; and it is the section's opening span when
    # that comes within SECTION_LEAD_SHARE of the section's most probable. A section written to answer its
    # heading opens with the answer, which the scorer rates low: it learnt from abstracts, whose first sentences
    # are background. On the 90 labelled corpus questions (python -m eval.label_answers) summaries graded 2 went
    # 60 -> 63 and graded 0 12 -> 9.
    own_headings = {h for h in {heading_of(cands, i) for i in usable} if asks_the_question(cands, h, min_coverage)}
    asking = [i for i in usable if prob[i] >= threshold and heading_of(cands, i) in own_headings]
    if asking:
        lead = section_lead(cands, spans, asking, prob)
        if prob[lead] >= SECTION_LEAD_SHARE * max(float(prob[i]) for i in asking):
            return [lead]
        usable = asking
    reporting = [i for i in usable if cands.intent.reports_accuracy(spans[i].text)]
    if reporting:
        return naming_most(cands, reporting)
    top_option = [i for i in usable if prob[i] >= threshold and cands.intent.states_superlative(spans[i].text)]
    if top_option:
        return naming_most(cands, top_option)
    # "Who gets X?" and "How long does X last?": a sentence saying whom X affects, or giving a span of time, that
    # names X itself (most of the question's key terms), unless the scorer all but rules it out. The scorer rates
    # "Sacral insufficiency fractures occur mainly in older women ..." 0.23, below a sacroplasty sentence, having
    # learnt from abstracts that a section's first sentence is seldom its conclusion, and "Sciatica caused by a
    # disc herniation often improves over weeks to months" below a trial's "median time to recovery of about 4
    # weeks compared with about 12 weeks" for its figures
    key = cands.features[:, FEATURES.index("key_terms")]
    stating = [i for i in usable if prob[i] >= TOP_DOCUMENT_FLOOR and key[i] >= MIN_COVERAGE
               and cands.intent.states_fact_asked(spans[i].text)]
    if stating:
        return naming_most(cands, stating, "key_terms")
    # an open question: a likely span giving the cause asked for when the most probable gives none; then one
    # naming clearly more of what it asks, and closer to it in meaning
    if cands.intent.open:
        usable = giving_a_cause(cands, spans, usable, prob, threshold) or usable
        usable = outranking_in_meaning(cands, spans, usable, prob, threshold) or usable
    floor = share * max(float(prob[i]) for i in usable)
    close = [i for i in usable if prob[i] >= floor]
    both_sides = [i for i in close if cands.features[i, FEATURES.index("both_sides")] > 0]
    # a list question: the source's own enumerating sentence, then the items as points
    enumerating = [i for i in close if cands.intent.enumerates(cands.items[i].text)]
    if both_sides or enumerating:
        return both_sides or enumerating
    if not cands.intent.open:
        advice = advising(cands, spans, usable, prob, threshold)
        return naming_most(cands, advice) if advice else naming_the_subject(cands, spans, usable, prob, threshold)
    # An open question is answered by a sentence about what it asks: of the sentences the scorer finds about as
    # likely, those naming most of the question's key terms (counting their heading and title). "What is the
    # mortality rate of severe ARDS from HAdV-55?" is answered by "HAdV-55-induced severe ARDS has a very high
    # mortality rate (80%)", not by "HAdV-55 ... may cause severe ARDS". Not for yes/no questions: a paper's
    # conclusion often words its finding otherwise than the title's question (on 400 PubMedQA questions,
    # summaries inside the gold conclusion 0.76 -> 0.63 when every question took the sentence naming most).
    return naming_most(cands, close)


def giving_a_cause(cands: Candidates, spans: list[Span | None], usable: list[int], prob: np.ndarray,
                  threshold: float) -> list[int]:
    """For an open question asking for a cause ("What causes X?", "Why is X?"), when the most probable span
    gives none: the spans that do (a causal verb or connective: "causes", "due to", "because") and are more
    likely an answer than not, naming at least as much of the question's key terms (counting heading and
    title). "What causes pain when sitting on the buttock bone?" is not answered by a red-flag warning the
    scorer rates 0.92, but by "When the bursa becomes inflamed, it can ... cause pain in the lower buttock"
    (0.72). Only causes: the cues of treatment, prognosis or symptoms match most clinical sentences, and the
    intent behind them is read from a question's words ("Why is ribavirin treatment limited?" asks a treatment
    question by its words): on 1,300 COVID-QA questions, preferring them too changed 20 summaries against 10,
    and "Why is ribavirin treatment limited?" lost "ribavirin is limited due to difficulty with aerosol
    delivery"."""
    intent = cands.intent
    top = max(usable, key=lambda i: prob[i])
    # (a list of causes is another kind of question: the enumerating sentence answers that)
    if intent.kind != CAUSE or intent.states_cause(spans[top].text):
        return []
    key = cands.features[:, FEATURES.index("key_terms_context")]
    return [i for i in usable if prob[i] >= threshold and key[i] >= key[top] and intent.states_cause(spans[i].text)]


def outranking_in_meaning(cands: Candidates, spans: list[Span | None], usable: list[int], prob: np.ndarray,
                          threshold: float) -> list[int]:
    """For an open question, the usable spans more likely an answer than not that name clearly more of the
    question's key terms (by KEY_TERMS_MARGIN, counting heading and title) and are closer to it in meaning
    (sentence cosine) than the most probable span: "Inflammatory back pain suggests axial spondyloarthritis"
    for "What are the features of inflammatory back pain?", not a guideline's triage of back pain, which the
    scorer rates higher for its position and its list. Both signals at once, so neither a repeated word nor a
    loose paraphrase alone overrules the scorer."""
    top = max(usable, key=lambda i: prob[i])
    key = cands.features[:, FEATURES.index("key_terms_context")]
    cosine = cands.features[:, FEATURES.index("cosine")]
    better = {i for i in usable if prob[i] >= threshold and key[i] >= key[top] + KEY_TERMS_MARGIN
              and cosine[i] > cosine[top]}
    # with the spans that quote such a sentence and what follows from it ("... Its features include ...")
    return [i for i in usable if i in better or better & set(spans[i].members)]


def as_on_point(cands: Candidates, i: int, summary: int) -> bool:
    """For an open question, span i names at least as much of the question's key terms as the summary
    (counting heading and title) and comes within SUMMARY_COSINE_SLACK of it in meaning: a second statement of
    the answer, though the scorer rates it below the share of its document's best ("the incubation period
    ranged from 2 to 14 days" beside "the median incubation period was 5 days")."""
    key = cands.features[:, FEATURES.index("key_terms_context")]
    cosine = cands.features[:, FEATURES.index("cosine")]
    return cands.intent.open and key[i] >= key[summary] and cosine[i] >= cosine[summary] - SUMMARY_COSINE_SLACK


def naming_most(cands: Candidates, indexes: list[int], feature: str = "key_terms_context") -> list[int]:
    """Of the given candidates, those naming the largest idf-weighted share of the question's key terms
    (counting their heading and title, unless `feature` is "key_terms": the sentence alone)."""
    named = cands.features[indexes, FEATURES.index(feature)]
    return [i for i, n in zip(indexes, named) if n >= named.max()]


def naming_the_subject(cands: Candidates, spans: list[Span | None], usable: list[int], prob: np.ndarray,
                       threshold: float) -> list[int]:
    """For a yes/no question about what an intervention does, when the most probable span does not name it: the
    ones that do and are more likely an answer than not (`threshold`): "Does acupuncture help low back pain?"
    is not answered by "Exercise is recommended for long-lasting low back pain", however probable. Else all
    usable ones."""
    subject = subject_terms(cands)
    if not subject or names_any(spans[max(usable, key=lambda i: prob[i])], subject):
        return usable
    return [i for i in usable if prob[i] >= threshold and names_any(spans[i], subject)] or usable


def advising(cands: Candidates, spans: list[Span | None], usable: list[int], prob: np.ndarray,
              threshold: float) -> list[int]:
    """For a question about whether an intervention is advised, the spans that give advice on it and are more
    likely an answer than not: "Are opioids recommended for low back pain?" is answered by "NICE also advises
    against ... opioids for chronic low back pain", not by a review noting the overuse of opioids."""
    subject = subject_terms(cands)
    return [i for i in usable if prob[i] >= threshold and names_any(spans[i], subject)
            and cands.intent.states_advice(spans[i].text)] if subject else []


def unnamed_subject(cands: Candidates, spans: list[Span | None], usable: list[int],
                    prob: np.ndarray) -> frozenset[str]:
    """For a yes/no question about what an intervention does, its terms when no usable span of probability at
    least SUBJECT_NAMED_FLOOR names it (else empty). The word may still occur elsewhere in the passages
    ("walking aids" in a physiotherapy sentence): what matters is whether a sentence that may answer names it.
    Of all 1,000 PubMedQA questions it turns one into an abstention ("Does molecular genotype provide useful
    information ...?", whose abstract speaks of BRAF mutations); of 1,300 COVID-QA questions and the 90
    labelled corpus questions, none."""
    subject = subject_terms(cands)
    if not subject or any(names_any(spans[i], subject) for i in usable if prob[i] >= SUBJECT_NAMED_FLOOR):
        return frozenset()
    return subject


def subject_terms(cands: Candidates) -> frozenset[str]:
    """The topic terms naming the intervention a yes/no question asks the effect of (empty for other
    questions)."""
    return content_terms(cands.intent.subject) & cands.terms.topic


def names_any(span: Span, terms: frozenset[str]) -> bool:
    """The span's text names one of the terms."""
    return bool(terms & content_terms(span.text))


def default_point_cut() -> tuple[float, float]:
    """(the probability a point must reach, the share of the summary's it must reach), as fitted with the
    shipped scorer (eval/fit_scorer.py says how)."""
    from service.scoring import default_scorer

    thresholds = default_scorer().thresholds
    return float(thresholds["point"]), float(thresholds.get("point_share", 0.0))


# A span reaches back over at most this many sentences: a result leaning on a study's set-up ("In that study,
# ..." after "Laslett and colleagues compared ...") and a further finding leaning on that result ("Laslett and
# colleagues also reported ..."). Longer chains are rare and read as a paragraph, not a quote.
MAX_LEANING_BACK = 2


def quotable_spans(cands: Candidates) -> list[Span | None]:
    """Per candidate, the span it can be quoted as, or None when it cannot stand alone."""
    index = {(s.hit, s.position): i for i, s in enumerate(cands.items)}
    out: list[Span | None] = []
    for i, s in enumerate(cands.items):
        if s.setup and not s.back_reference:
            out.append(None)  # a set-up is quoted only with its result, which then leans back on it
            continue
        members = leaning_chain(cands, index, i)
        if members is None:
            out.append(None)  # leans on text it cannot bring along (boilerplate, another chunk, a longer chain)
            continue
        first = cands.items[members[0]]
        text = s.text if len(members) == 1 else collapse(cands.retrieval.hits[s.hit].chunk.text[first.start:s.end])
        cites = tuple(c for m in members for c in cands.items[m].cites)
        out.append(Span(i, first.start, s.end, text, cites, members))
    return out


def leaning_chain(cands: Candidates, index: dict, i: int) -> tuple[int, ...] | None:
    """Candidate i and the candidates before it in its chunk that it leans on, back to one that stands on its
    own (which may be a set-up), in text order; None when the chain reaches text that is not a candidate or
    runs longer than MAX_LEANING_BACK."""
    chain = [i]
    while cands.items[chain[0]].back_reference:
        s = cands.items[chain[0]]
        before = index.get((s.hit, s.position - 1))
        if before is None or len(chain) > MAX_LEANING_BACK:
            return None
        chain.insert(0, before)
    return tuple(chain)


def span_probabilities(cands: Candidates, spans: list[Span | None], prob: np.ndarray) -> np.ndarray:
    """Each span's probability: a span of several sentences gets the mean of its sentences' (the expected share
    of the quoted text that answers), so a weak antecedent weighs on the sentence that needs it."""
    out = np.array(prob, dtype=np.float32, copy=True)
    for i, span in enumerate(spans):
        if span is not None and len(span.members) > 1:
            out[i] = float(np.mean([prob[m] for m in span.members]))
    return out


def diverse_points(cands: Candidates, spans: list[Span | None], prob: np.ndarray, summary: int,
                   pool: list[int], k: int, already: tuple[int, ...] = ()) -> list[int]:
    """Candidates of the pool by probability, each not a near-duplicate of (or overlapping) the summary, the
    points `already` chosen or one chosen before, until there are k points."""
    chosen = [summary, *already]
    if not pool or len(chosen) > k:
        return []
    vecs = cands.vectors
    redundancy = np.clip(vecs[pool] @ vecs[chosen].T, 0.0, None).max(axis=1)
    remaining = list(range(len(pool)))
    quoted = set().union(*(span_sentences(cands, spans[c]) for c in chosen))
    while remaining and len(chosen) < k + 1:
        values = [prob[pool[j]] - REDUNDANCY_WEIGHT * redundancy[j] for j in remaining]
        j = remaining.pop(int(np.argmax(values)))
        i = pool[j]
        if redundancy[j] >= DUPLICATE_COSINE or any(overlaps(cands, spans[i], spans[c]) for c in chosen):
            continue
        if quoted & span_sentences(cands, spans[i]):  # a sentence already quoted (from another document)
            continue
        if restates(cands, spans, i, chosen):
            continue
        quoted |= span_sentences(cands, spans[i])
        chosen.append(i)
        redundancy = np.maximum(redundancy, np.clip(vecs[pool] @ vecs[i], 0.0, None))
    return chosen[1 + len(already):]


def with_top_document(cands: Candidates, spans: list[Span | None], prob: np.ndarray, summary: int,
                      usable: list[int], chosen: list[int], k: int) -> list[int]:
    """The points, citing the document retrieval ranked first as well: when neither the summary nor a point
    quotes it, its most probable usable span joins the points (in place of the last one if k are chosen).
    Search judged it the best match for the whole question; an answer that leaves it out hides the source a
    clinician would open first, even when the scorer rates each of its sentences below the point cut."""
    top = cands.retrieval.hits[0].document.doc_id if cands.retrieval.hits else None
    if top is None or any(doc_of(cands, i) == top for i in [summary, *chosen]):
        return chosen
    quoted = set().union(*(span_sentences(cands, spans[i]) for i in [summary, *chosen]))
    own = [i for i in usable if doc_of(cands, i) == top and prob[i] >= TOP_DOCUMENT_FLOOR
           and not quoted & span_sentences(cands, spans[i])
           and not any(overlaps(cands, spans[i], spans[c]) for c in [summary, *chosen])]
    if not own:
        return chosen
    return chosen[:k - 1] + [max(own, key=lambda i: prob[i])]


def restates(cands: Candidates, spans: list[Span | None], i: int, chosen: list[int]) -> bool:
    """Candidate i says nothing an earlier pick does not: that pick's quoted text already holds
    NOTHING_NEW_SHARE of its content terms ("Schwarzer and colleagues estimated ... 13% ... 30% of those
    patients" after "Using diagnostic blocks, Schwarzer and colleagues (1995) estimated ... 13% ... 30% ...")."""
    terms = cands.items[i].terms
    if not terms:
        return False
    for c in chosen:
        held = content_terms(spans[c].text)
        if len(terms & held) >= NOTHING_NEW_SHARE * len(terms):
            return True
    return False


def span_sentences(cands: Candidates, span: Span) -> set[str]:
    """The sentences a span quotes (its own and those it leans on), lower-cased."""
    return {cands.items[m].text.lower() for m in span.members}


def overlaps(cands: Candidates, a: Span, b: Span) -> bool:
    """Two spans share text of one chunk."""
    ha, hb = cands.items[a.candidate].hit, cands.items[b.candidate].hit
    same_chunk = cands.retrieval.hits[ha].chunk.chunk_id == cands.retrieval.hits[hb].chunk.chunk_id
    return same_chunk and a.start < b.end and b.start < a.end


def pick(cands: Candidates, span: Span, probability: float) -> Pick:
    """The Pick for a span, with near-identical sentences of other documents cited alongside."""
    s = cands.items[span.candidate]
    hit = cands.retrieval.hits[s.hit]
    also = tuple(Pick(cands.retrieval.hits[o.hit], o.start, o.end, o.text, cands.retrieval.hits[o.hit].chunk.heading,
                      probability, o.cites)
                 for o in agreeing(cands, s))
    return Pick(hit, span.start, span.end, span.text, hit.chunk.heading, probability, span.cites, also)


def agreeing(cands: Candidates, s: Sentence) -> list[Sentence]:
    """One sentence per other document that states the same as s (standalone ones only)."""
    doc = cands.retrieval.hits[s.hit].document.doc_id
    seen = {doc}
    out = []
    for j in may_agree(cands, len(s.terms)):
        o, other = cands.items[j], cands.doc_ids[j]
        if other in seen or o.back_reference or o.setup:
            continue
        if similarity(s.terms, o.terms) >= AGREEMENT_SIMILARITY:
            out.append(o)
            seen.add(other)
    return out


def may_agree(cands: Candidates, size: int) -> np.ndarray:
    """The candidates, in order, whose term sets are of a size that can reach AGREEMENT_SIMILARITY with a set
    of `size` terms: a Jaccard overlap is at most the smaller size over the larger, and division rounds
    monotonically, so a candidate left out never passed the exact test. Spares building the intersection and
    union of nearly every pair."""
    if not size:
        return np.zeros(0, dtype=np.int64)  # an empty set agrees with nothing (similarity 0)
    sizes = cands.term_counts
    return np.flatnonzero(np.minimum(sizes, size) / np.maximum(sizes, size) >= AGREEMENT_SIMILARITY)


def asks_the_question(cands: Candidates, heading: str, min_coverage: float) -> bool:
    """The heading is a question of the asked kind that names min_coverage of the asked topic terms (idf-weighted,
    as for abstention): "Can facet joint pain be diagnosed by history and examination?" over "Can lumbar facet
    joint pain be diagnosed from the history and examination?", not "How are sacral insufficiency fractures
    diagnosed?" over "Will a plain X-ray show a sacral insufficiency fracture?"."""
    if not cands.terms.topic or not heading.rstrip().endswith("?") \
            or not heading_question_kinds(heading) & set(cands.intent.kinds()):
        return False  # a question with no topic terms is asked by every heading of its kind: none is its own
    return weighted_share(cands, cands.terms.topic - content_terms(heading)) >= min_coverage


@lru_cache(maxsize=10_000)
def heading_question_kinds(heading: str) -> frozenset[str]:
    """The kinds of answer a question heading asks for; cached: every answer asks it of its candidates' headings,
    and a corpus has few headings."""
    return frozenset(question_intent(heading).kinds())


def section_lead(cands: Candidates, spans: list[Span | None], asking: list[int], prob: np.ndarray) -> int:
    """Of the given spans, the first in text order of the section holding the most probable one."""
    top = max(asking, key=lambda i: prob[i])
    where = (doc_of(cands, top), heading_of(cands, top))
    section = [i for i in asking if (doc_of(cands, i), heading_of(cands, i)) == where]
    return min(section, key=lambda i: (chunk_number(cands, i), spans[i].start))


def chunk_number(cands: Candidates, i: int) -> int:
    """The number of the chunk candidate i was quoted from within its document (chunk ids end in "#N")."""
    number = cands.retrieval.hits[cands.items[i].hit].chunk.chunk_id.rpartition("#")[2]
    return int(number) if number.isdigit() else 0


def heading_of(cands: Candidates, i: int) -> str:
    """The heading of the section candidate i was quoted from."""
    return cands.retrieval.hits[cands.items[i].hit].chunk.heading


def doc_of(cands: Candidates, i: int) -> str:
    """The id of the document candidate i was quoted from."""
    return cands.doc_ids[i]


def covering_candidates(cands: Candidates, min_coverage: float) -> set[int]:
    """The candidates whose document's retrieved chunks hold min_coverage of the question's topic terms
    (idf-weighted, as for abstention): a trial of balloon valvuloplasty is not a source on balloon
    enteroscopy because both say "balloon"."""
    hits = cands.retrieval.hits
    by_doc: dict[str, list[int]] = {}
    for n, h in enumerate(hits):
        by_doc.setdefault(h.document.doc_id, []).append(n)
    covering = {doc for doc, ns in by_doc.items()
                if question_coverage(cands, unaddressed_terms(cands, ns)) >= min_coverage}
    return {i for i, s in enumerate(cands.items) if hits[s.hit].document.doc_id in covering}


def about_the_question(cands: Candidates, i: int, summary_doc: str, on_point: set[int]) -> bool:
    """Candidate i may be a point: its section answers the asked kind of question (no diagnosis sentences in a
    treatment answer), and a sentence of another document than the summary's comes from a passage that itself
    holds the question's key terms (`on_point`). A document can cover the question in one section and hold
    another condition's fusion trial in the next ("Is surgery better than conservative care for a herniated
    disc?" quoted sacroiliac fusion). On all of PubMedQA (answer_bench) point precision went 0.413 -> 0.447 with
    the summary unchanged (0.773); COVID-QA (medcite eval) exact answer in the whole answer 0.497 -> 0.494."""
    # select() already prefers sections of the asked kind; this keeps points out of the others even when the
    # summary had to come from one (no quotable sentence of the asked kind)
    if cands.intent.other_kind_of_section(heading_of(cands, i)):
        return False
    return doc_of(cands, i) == summary_doc or cands.items[i].hit in on_point


def covering_chunks(cands: Candidates, min_coverage: float) -> set[int]:
    """The hits whose own chunk (text, heading, title) holds min_coverage of a question part's topic terms."""
    return {n for n in range(len(cands.retrieval.hits))
            if question_coverage(cands, unaddressed_terms(cands, [n])) >= min_coverage}


def on_topic(cands: Candidates, i: int) -> bool:
    """The sentence, or its chunk's title or heading, names a topic term; and its passage is not about the
    other phase or population than the question names (acute vs chronic, children vs adults)."""
    s = cands.items[i]
    hit = cands.retrieval.hits[s.hit]
    context = content_terms(f"{hit.document.meta.title} {hit.chunk.heading}")
    if cands.terms.topic and not cands.terms.topic & (s.terms | context):
        return False
    return not conflicting(cands.retrieval.question, f"{hit.document.meta.title} {hit.chunk.heading} {s.text}")


def conflicting(question: str, passage: str) -> bool:
    """The question names one side of a phase/population pair and the passage names only the other side."""
    sides = asked_sides(question)
    if not sides:
        return False
    said = set(_WORD.findall(passage.lower()))
    return any(said & other and not said & mine for mine, other in sides)


@lru_cache(maxsize=10_000)
def asked_sides(question: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """(the side the question names, the opposite side) for each phase/population pair it takes a side in."""
    asked = set(_WORD.findall(question.lower()))
    out = []
    for side_a, side_b in _OPPOSITES:
        for mine, other in ((side_a, side_b), (side_b, side_a)):
            if asked & mine and not asked & other:
                out.append((mine, other))
    return tuple(out)


def unaddressed_terms(cands: Candidates, hit_indexes) -> set[str]:
    """Topic terms that none of the given hits' chunks (text, heading, title) contains. A term the hits hold
    as two words ("COVID19" for "COVID-19") counts as addressed; so does a term no chunk of the whole index
    holds when the hits hold a spelling within a small edit distance ("carageenan" for "carrageenan"): users
    misspell, and the index cannot hold the misspelling (a real word of the index is never fuzzed)."""
    held = [cands.hit_terms[i] for i in hit_indexes]  # computed once per question, asked of every hit
    if all(any(t in terms for terms in held) for t in cands.terms.topic):
        return set()  # the usual case, found without building the union
    # The same set operations as ever, so the set iterates in the same order: weighted_share sums over it,
    # and a float sum depends on its order.
    seen = held[0] if len(held) == 1 else frozenset().union(*held)
    missing = cands.terms.topic - seen
    return {t for t in missing if not variant_of(t, seen, fuzzy=t in cands.absent_terms)}


def as_words(cands: Candidates, terms: set[str]) -> tuple[str, ...]:
    """Stemmed terms as the question wrote them, in question order."""
    out = []
    for w in words(cands.retrieval.question):
        if stem(w) in terms and w not in out:
            out.append(w)
            terms = terms - {stem(w)}
    return tuple(out)


# "Do yoga or pilates help ...?", "How is X recognised, and does Y help it?": alternatives and added
# questions, each of which can be answered on its own.
_COORDINATION = re.compile(r"\bor\b|,\s*(?:and|or)\b|;|\band (?=(?:is|are|does|do|can|should|what|how|when)\b)",
                           re.IGNORECASE)


def question_pieces(cands: Candidates) -> list[frozenset[str]]:
    """The topic terms of each coordinated part of the question (the whole question when it has one part)."""
    return list(coordinated_pieces(cands.retrieval.question, cands.terms.topic))


@lru_cache(maxsize=1024)
def coordinated_pieces(question: str, topic: frozenset[str]) -> tuple[frozenset[str], ...]:
    """question_pieces for a question and its topic terms; cached: selection asks the coverage of every hit
    and document of an answer, each time over the same pieces."""
    pieces = [topic & content_terms(part) for part in _COORDINATION.split(question)]
    return tuple(p for p in pieces if p) or (topic,)


def question_coverage(cands: Candidates, missing: set[str]) -> float:
    """How much of the question passages lacking the `missing` topic terms address: the best idf-weighted share
    over the question's coordinated parts (one part answered is an answer)."""
    return max(weighted_share(cands, missing, piece) for piece in question_pieces(cands))


def weighted_share(cands: Candidates, missing: set[str], terms: frozenset[str] | None = None) -> float:
    """The idf-weighted share of the (given) topic terms that are not missing (1 when there are none)."""
    terms = cands.terms.topic if terms is None else terms
    total = sum(cands.term_weights.get(t, 1.0) for t in terms)
    if not total:
        return 1.0
    return 1.0 - sum(cands.term_weights.get(t, 1.0) for t in missing & terms) / total
