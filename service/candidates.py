"""Stage 2 of the answer path: the candidate sentences of the retrieved chunks, each with its features.

Sentences and their vectors were stored at ingest (`Index.sentences`, `Index.sentence_vectors`), so this
stage splits nothing and calls no model: the only question-time vector is the one retrieval computed.
Per chunk, the question-independent work (boilerplate filter, terms, cue words) is cached; per question,
the features of all candidates are one numpy matrix (FEATURES names its columns) that
service/scoring.py turns into probabilities.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from service.answer_types import Retrieval
from service.intent import COMPARISON, DEFINITION, DIAGNOSIS, FIGURE, Intent, gives_answer_of, question_intent
from service.text import (
    CaselessPattern,
    QueryTerms,
    collapse,
    compared_terms,
    content_bigrams,
    content_terms,
    defined_terms,
    defines,
    is_boilerplate,
    query_terms,
    stem,
    strip_list_mark,
    terms_and_bigrams,
    words,
)

# Columns of Candidates.features, in order; service/models/sentence_scorer.json holds one weight per name.
FEATURES = (
    "cosine",              # sentence vector . question vector
    "cosine_gap",          # cosine minus the best candidate's cosine (<= 0): relative closeness
    "cosine_top",          # 1 / (1 + rank of the cosine among the candidates)
    "chunk_score",         # the chunk's hybrid score / the best hit's
    "chunk_rank",          # 1 / (1 + the chunk's retrieval rank)
    "key_terms",           # idf-weighted share of the question's topic terms the sentence names
    "key_terms_context",   # the same, counting the chunk's title and heading too
    "template_terms",      # share of the question's template words ("treatment", "cause") it names
    "heading_match",       # term overlap of the question and the section heading (Jaccard)
    "heading_intent",      # the heading is where the asked kind of answer sits ("Treatment")
    "sentence_intent",     # the sentence gives the asked kind of answer (a figure, a cause ...)
    "defines",             # a definition question, and the sentence defines the asked term
    "both_sides",          # a comparison question, and the sentence names both sides
    "number_for_figure",   # a figure or accuracy question, and the sentence holds a number
    "first_in_chunk",
    "position_in_chunk",   # 0 first .. 1 last sentence of the chunk
    "position_in_document",  # 0 start .. 1 end of the document, by chunk number
    "back_reference",      # points at the sentence before ("These", "However,", "Clinicians therefore ...")
    "setup",               # a study's set-up ("We enrolled ...", "X and colleagues studied ...")
    "length",              # words / LONG_SENTENCE_WORDS, capped at 1
    "cites_sources",       # carries in-text citations ("[12]", "(Maher 2017)")
    "statistics",          # reports test statistics (p values, confidence intervals, odds ratios)
    "claim",               # states a conclusion or recommendation ("suggest", "should", "is associated")
    "question_phrases",    # share of the question's content-word pairs the sentence repeats in order
    "centrality",          # cosine to the mean of its document's candidate sentences: what the passage is about
    "procedure",           # reports what was done ("were measured", "was performed"): method, not finding
    "present_tense",       # speaks in the present or a modal ("is", "can", "may"): a general statement
)
LONG_SENTENCE_WORDS = 60  # the boilerplate filter drops sentences over 80 words; 60 covers most real ones

# A sentence opening with one of these leans on the one before it: quoted alone it points at text the
# answer does not contain. (General English anaphora and connectives; "Both"/"Other" are left out, as
# they usually name their own referents.)
_BACK_REFERENCE = CaselessPattern(
    r"^\W*(this|these|those|that|such|it|its|they|their|them|he|she|his|her|there|here|neither|either|"
    r"however|thus|therefore|hence|then|also|furthermore|moreover|additionally|similarly|likewise|"
    r"consequently|accordingly|nevertheless|nonetheless|otherwise|instead|conversely|yet|but|and|or|so|"
    r"another|the former|the latter|the same|in addition|in contrast|by contrast|on the other hand|"
    r"as a result|in that|in this|in these|in those|in such|under these|under this|under such|at that|"
    r"of these|of those|for this|for these|for that|for example|for instance|in particular|"
    r"one of these|each of these|all of these|both of these|none of these|in both|in turn|on the contrary|"
    r"even so|as such|to (this|that) end|in the (other|opposite|same) (direction|way|vein)|"
    # a summing-up of what went before, by pointing at it: "Taken together, the two trials suggest ..." ("Taken
    # together, SPORT and the Peul trial suggest ..." names what it sums up, and stands alone)
    r"(taken together|together|collectively|altogether),? (the|these|those|this|both|all|such)|"
    # a preposition whose object is a pronoun: "Despite this, ...", "Unlike these, ...", "Compared with that, ..."
    # ("given" is left out: "Given that most patients recover, ..." is a conjunction, not a pointer)
    r"(despite|because of|after|before|beyond|besides|apart from|following|unlike|like|as with|in spite of|"
    r"in addition to|compared (with|to)|in line with|consistent with|contrary to|beside) "
    r"(this|these|that|those|it|them))\b",
)
# "These resources address the management of X: - A - B": "these" with a plural noun of its own, whose
# referents are the bulleted items after the colon of the same sentence, points forward, not back. ("These
# include: ...", "These tend to fall into four groups: (i) ..." and "This audit measured ...: (1) ..." still
# lean on the sentence before.)
_NAMES_ITS_LIST = re.compile(r"^\W*these\s+[a-z\-]+s\b[^:]*:\s*[-\u2022*]\s+\S", re.IGNORECASE | re.DOTALL)
# Leaning inside the sentence, where an opening word does not show it: a connective right after the subject
# ("Clinicians therefore interpret ...", "At one year, however, rates ...") continues or contrasts the
# sentence before (session 12 added "however" and its kin: "How long does sciatica usually last?" was answered
# "At one year, however, rates of perceived recovery were similar"), and "they" / "their" /
# "them" with no plural noun before them in the sentence have nothing in it to stand for ("By 'buttock' they
# usually mean ..."). Demonstratives inside a sentence ("... of those patients", "Overall, these findings ...")
# are left quotable: treating them as leaning cost PubMedQA point precision 0.412 -> 0.390 and COVID-QA's exact
# answer in the summary 0.345 -> 0.339 (answer_bench / medcite eval on the code with and without the rule,
# once): most such sentences of research conclusions read on their own. An opening that sums up what it points
# at ("Taken together, the two trials ...") leans (_BACK_REFERENCE, session 15): it changed no summary or point
# of 400 PubMedQA and 1,300 COVID-QA questions (a one-off in-process script).
_CONTINUES = CaselessPattern(
    r"^\W*(?:[\w'\"\u2019\u201c\u201d\-]+,?\s+){1,4}?(?:therefore|thus|hence|consequently|accordingly|likewise|"
    r"similarly|however|nevertheless|nonetheless)\b")
# "Laslett and colleagues also reported ...": a named study's further finding leans on the finding stated before
# it. As leaning it changed none of the benchmark figures (PubMedQA 0.773 / 0.447, COVID-QA 0.344 / 0.494,
# medquad-dev hit rate 0.861: answer_bench / medcite eval with and without it, once).
_FURTHER_FINDING = re.compile(r"^\W*[\w'\-]+(?: and colleagues| et al\.?)(?: \(\d{4}\))? also\b", re.IGNORECASE)
# "Radiographic findings do not always match symptoms, however.": a closing connective contrasts the sentence
# with the one before it.
_CLOSING_CONNECTIVE = re.compile(r",\s*(however|though|nevertheless|nonetheless|therefore|too)\W*$", re.IGNORECASE)
# "The choice between surgery and non-surgical care ... is therefore largely a matter of patient preference":
# a consequence drawn later in the sentence is drawn from the sentence before, unless the sentence gives its
# own reason ("..., and therefore ..."). Session 12: the two surgery answers of the default corpus now quote
# the trials' conclusion with it; on a 400-question PubMedQA sample point precision went 0.447 -> 0.441 with
# no summary changed (a one-off in-process script).
_MID_CONSEQUENCE = CaselessPattern(r"(?<!\band )(?<!, )\b(therefore|thus|hence|consequently)\b(?! far)")
_PLURAL_PRONOUN = re.compile(r"\b(?:they|them|their|theirs)\b", re.IGNORECASE)
# a word that can name several people or things ("patients", "studies", "people", "children", "data")
_PLURAL_NOUN = re.compile(r"\b(?:[a-z]{2,}(?<!s)(?<!u)(?<!i)s|people|children|men|women|data|criteria|staff|"
                          r"[a-z]+ae)\b", re.IGNORECASE)
# A study's set-up rather than its result: used only together with the result that follows it.
_SETUP = CaselessPattern(
    r"\b(we (studied|examined|investigated|assessed|evaluated|enrolled|recruited|conducted|performed|analy[sz]ed|"
    r"reviewed|compared|included|aimed|sought|hypothesi[sz]ed)|(and|&) colleagues (\(\d{4}\) )?(studied|examined|"
    r"investigated|assessed|evaluated|enrolled|recruited|followed|compared|reviewed|tested|randomi[sz]ed)|(was|were) "
    r"(enrolled|recruited|randomi[sz]ed|included|invited)|the (aim|purpose|objective|goal)s? (of|was|were)|"
    r"(aimed|designed|sought) to|this study (examined|investigated|assessed|evaluated|aimed)|"
    r"in a (study|trial|cohort|survey|review) of|(studied|examined|investigated|assessed|evaluated|enrolled|"
    r"recruited|followed|surveyed|tested)\b[^.;]*\b(in|of) \d[\d,]* (\w+ )?(adults|patients|people|participants|"
    r"subjects|children|women|men|volunteers|cases|infants|individuals))\b",
)
_IN_TEXT_CITATION = re.compile(r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]|\([A-Z][A-Za-z'\-]+(?: et al\.?)?,? (?:19|20)\d{2}")
_DIGIT = re.compile(r"\d")
# Statistical reporting in research text: the numbers behind a result, rather than the result's statement.
_STATISTICS = re.compile(r"\b[pP]\s*[<=>\u2264\u2265]\s*0?\.\d|\b95\s*%|\bCI\b|\b(OR|RR|HR|AUC)\s*[=:,]?\s*\d|"
                         r"\(n\s*=\s*\d|\u00b1|\bSD\b")
# A conclusion or recommendation: what a reader quotes as the answer of a study or review.
_CLAIM = CaselessPattern(r"\b(suggest\w*|indicat\w*|conclu\w*|recommend\w*|should|may|might|appears? to|"
                         r"seems? to|is associated|are associated|was associated|were associated|support\w*|"
                         r"highlight\w*|demonstrat\w*|effective|important|useful|safe)\b")
_CHUNK_NUMBER = re.compile(r"#(\d+)$")
# A method statement in the passive past ("Samples were collected", "was retrospectively reviewed").
_PROCEDURE = CaselessPattern(r"\b(was|were)\s+(\w+ly\s+)?(\w+ed|done|made|taken|given|drawn|undertaken|chosen|"
                             r"held|sent|kept|built|sought|obtained|used)\b")
_PRESENT = CaselessPattern(r"\b(is|are|can|cannot|may|might|could|should|must|does|do|has|have|remains?|"
                           r"appears?|seems?|represents?|provides?)\b")


@dataclass(frozen=True)
class Sentence:
    """One usable stored sentence of a retrieved chunk: where it is and what it says."""

    hit: int  # index into Retrieval.hits
    position: int  # index among the chunk's stored sentences
    start: int  # offsets into hit.chunk.text (a leading list mark skipped)
    end: int
    text: str  # chunk.text[start:end] with whitespace collapsed
    terms: frozenset[str]
    back_reference: bool
    setup: bool
    antecedent_start: int | None  # start of the previous stored sentence of the chunk, if any
    antecedent_text: str = ""  # that sentence, collapsed (empty when there is none)
    antecedent_back_reference: bool = False
    antecedent_setup: bool = False
    cites: tuple = ()  # CitedWorks of this sentence (and of its antecedent, for a span with both)
    antecedent_cites: tuple = ()


@dataclass(frozen=True)
class Candidates:
    """Every candidate sentence of a question, its features (one row each) and its vector."""

    retrieval: Retrieval
    intent: Intent
    terms: QueryTerms
    term_weights: dict = field(hash=False, compare=False)  # topic term -> idf weight
    absent_terms: frozenset[str] = frozenset()  # topic terms no chunk of the whole index holds
    items: tuple[Sentence, ...] = ()
    features: np.ndarray = field(default=None, hash=False, compare=False)  # [len(items), len(FEATURES)]
    vectors: np.ndarray = field(default=None, hash=False, compare=False)  # [len(items), dim], L2-normalised

    @cached_property
    def doc_ids(self) -> tuple[str, ...]:
        """Per candidate, the id of the document it was quoted from (selection asks it again and again)."""
        hits = self.retrieval.hits
        return tuple(hits[s.hit].document.doc_id for s in self.items)

    @cached_property
    def term_counts(self) -> np.ndarray:
        """Per candidate, how many content terms it has (float64, for the size bound of selection's
        agreement test)."""
        return np.array([len(s.terms) for s in self.items], dtype=np.float64)

    @cached_property
    def hit_terms(self) -> tuple[frozenset[str], ...]:
        """Per hit, the content terms of its chunk's text and heading and of its document's title: where
        selection looks for the question's topic terms. Computed once per question, as selection asks it of
        every hit, of every document and of all hits together."""
        return tuple(content_terms(f"{h.document.meta.title} {h.chunk.heading}") | content_terms(h.chunk.text)
                     for h in self.retrieval.hits)


@dataclass(frozen=True)
class _Profile:
    """The question-independent facts of one stored sentence (cached per chunk)."""

    position: int
    start: int
    end: int
    text: str
    terms: tuple[str, ...]  # tuples, not sets: see service.text.content_terms on garbage collection
    usable: bool
    back_reference: bool
    setup: bool
    has_number: bool
    cites_sources: bool
    statistics: bool
    claim: bool
    procedure: bool
    present_tense: bool
    bigrams: tuple[tuple[str, str], ...]
    words: int
    row: int


def build_candidates(retrieval: Retrieval, index, top_documents: int) -> Candidates:
    """The usable sentences of the hits from the first `top_documents` documents, with their features."""
    question = retrieval.question
    intent = question_intent(question)
    qterms = query_terms(question)
    weights, absent = term_weights(question, qterms, index)
    hits = retrieval.hits
    allowed = first_documents(hits, top_documents)
    chosen = [i for i, h in enumerate(hits) if h.document.doc_id in allowed]
    records = index.sentences([hits[i].chunk.chunk_id for i in chosen]) if chosen else {}
    items, rows, statics = [], [], []
    seen: set[tuple[str, str]] = set()
    for i in chosen:
        hit = hits[i]
        profiles = chunk_profile(hit.chunk.text, hit.chunk.heading, records.get(hit.chunk.chunk_id, ()))
        for p in profiles:
            if not p.usable:
                continue
            key = (hit.document.doc_id, p.text.lower())
            if key in seen:  # chunks overlap by a sentence: quote it once, from the better-ranked chunk
                continue
            seen.add(key)
            before = profiles[p.position - 1] if p.position > 0 else None
            items.append(Sentence(
                i, p.position, p.start, p.end, p.text, frozenset(p.terms), p.back_reference, p.setup,
                before.start if before else None, before.text if before else "",
                before.back_reference if before else False, before.setup if before else False,
                record_cites(records[hit.chunk.chunk_id], p.position),
                record_cites(records[hit.chunk.chunk_id], p.position - 1) if before else ()))
            rows.append(p.row)
            statics.append((p, len(profiles)))
    vectors = index.sentence_vectors(np.asarray(rows, dtype=np.int64)) if rows else np.zeros((0, 1), np.float32)
    features = feature_matrix(retrieval, intent, qterms, weights, items, statics, vectors)
    return Candidates(retrieval, intent, qterms, weights, absent, tuple(items), features, vectors)


def record_cites(records, position: int) -> tuple:
    """The cited works stored with one sentence record."""
    return tuple(records[position].cites or ())


def first_documents(hits, k: int) -> set[str]:
    """The ids of the first k distinct documents in retrieval order."""
    seen: list[str] = []
    for h in hits:
        if h.document.doc_id not in seen:
            seen.append(h.document.doc_id)
            if len(seen) == k:
                break
    return set(seen)


# Chunks whose sentence profiles stay cached: the whole of MedQuAD (26k chunks) with room to spare; an index
# this small is warmed at startup (warm_profiles), a larger one warms as it is asked.
PROFILE_CACHE_CHUNKS = 50_000


def leans_back(sentence: str) -> bool:
    """The sentence points at the sentence before it: with its opening word (not at a list it holds itself),
    with a connective after its subject or closing it, with a consequence it does not give the reason for, or
    with a "they" it cannot resolve itself."""
    return opens_leaning(sentence) or bool(_CONTINUES.match(sentence) or _FURTHER_FINDING.match(sentence)
                                           or _CLOSING_CONNECTIVE.search(sentence) or _MID_CONSEQUENCE.search(sentence)
                                           or unresolved_they(sentence))


def opens_leaning(sentence: str) -> bool:
    """The sentence opens with a word pointing at the sentence before it (not at a list it holds itself)."""
    return bool(_BACK_REFERENCE.match(sentence)) and not _NAMES_ITS_LIST.match(sentence)


def unresolved_they(sentence: str) -> bool:
    """"they", "them" or "their" with no word before it in the sentence that could name several people or
    things."""
    pronoun = _PLURAL_PRONOUN.search(sentence)
    return bool(pronoun) and not _PLURAL_NOUN.search(sentence[:pronoun.start()])


@lru_cache(maxsize=PROFILE_CACHE_CHUNKS)
def chunk_profile(text: str, heading: str, records: tuple) -> tuple[_Profile, ...]:
    """The question-independent facts of every stored sentence of a chunk; cached, so a warm service
    does this once per chunk and an answer only scores."""
    out = []
    for n, rec in enumerate(records):
        start = strip_list_mark(text, rec.start, rec.end)
        raw = text[start:rec.end]
        clean = collapse(raw)
        terms, bigrams = terms_and_bigrams(clean)
        has_number = bool(_DIGIT.search(clean))
        out.append(_Profile(
            n, start, rec.end, clean, terms, not is_boilerplate(raw, heading),
            leans_back(clean), bool(_SETUP.search(clean)), has_number,
            bool(_IN_TEXT_CITATION.search(clean)), reports_statistics(clean, has_number), bool(_CLAIM.search(clean)),
            bool(_PROCEDURE.search(clean)), bool(_PRESENT.search(clean)), bigrams,
            len(clean.split()), int(rec.row)))
    return tuple(out)


def reports_statistics(sentence: str, has_number: bool) -> bool:
    """_STATISTICS matches the sentence. Every one of its alternatives needs a digit, "CI", "SD" or "\u00b1"
    (it is case-sensitive), so it runs only on sentences holding one: scanning every sentence of every cold
    chunk made it one of the dearest patterns of the profile."""
    if not (has_number or "CI" in sentence or "SD" in sentence or "\u00b1" in sentence):
        return False
    return bool(_STATISTICS.search(sentence))


@lru_cache(maxsize=200_000)
def sentence_cue(sentence: str, kinds: tuple[str, ...]) -> bool:
    """The sentence gives an answer of the asked kinds (Intent.kinds()); cached per (sentence, kinds), and only
    the asked kinds are tested: testing all ten intents' patterns up front was a sixth of a cold answer's time.
    Keyed by the kinds rather than the whole Intent: a tuple of strings hashes and compares for less, and
    questions of the same kinds share the entries."""
    return gives_answer_of(kinds, sentence)


def warm_profiles(index, doc_ids, batch: int = 256) -> int:
    """Compute the sentence profile of every chunk of the given documents, as a question would (same cache
    keys); returns the chunks profiled. A cold answer spends most of its time profiling the chunks it
    retrieves for the first time; a server runs this in the background once its index is open."""
    done, pending = 0, []
    for doc_id in doc_ids:
        pending.extend(index.chunks_of(doc_id))
        if len(pending) >= batch:
            done += _profile_chunks(index, pending)
            pending = []
    return done + (_profile_chunks(index, pending) if pending else 0)


def _profile_chunks(index, chunks) -> int:
    """Profile one batch of chunks (one sentence-store read)."""
    records = index.sentences([c.chunk_id for c in chunks])
    for c in chunks:
        chunk_profile(c.text, c.heading, records.get(c.chunk_id, ()))
    return len(chunks)


def term_weights(question: str, qterms: QueryTerms, index) -> tuple[dict[str, float], frozenset[str]]:
    """Each topic term's idf in the index (rarer terms say more about what is asked), and the topic terms
    no chunk of the index holds. Without BM25 postings every term weighs 1 and none is known absent."""
    by_stem: dict[str, list[str]] = {}
    for w in words(question):
        t = stem(w)
        if t in qterms.topic:
            by_stem.setdefault(t, []).append(w)
    frequencies = getattr(index, "chunk_frequencies", None)
    counts = frequencies([w for ws in by_stem.values() for w in ws]) if frequencies else {}
    total = len(index) if counts else 0
    weights, absent = {}, set()
    for t, ws in by_stem.items():
        known = [counts[w] for w in ws if w in counts]
        if not known:
            weights[t] = 1.0
            continue
        df = max(known)
        weights[t] = bm25_idf(df, total)
        if df == 0:
            absent.add(t)
    for t in qterms.topic - set(weights):
        weights[t] = 1.0
    return weights, frozenset(absent)


def bm25_idf(df: int, total: int) -> float:
    """FTS5's BM25 idf, log((N - df + 0.5) / (df + 0.5)), floored as FTS5 floors it (1e-6)."""
    value = math.log((total - df + 0.5) / (df + 0.5)) if total else 1.0
    return value if value > 0 else 1e-6


def feature_matrix(retrieval: Retrieval, intent: Intent, qterms: QueryTerms, weights: dict[str, float],
                   items: list[Sentence], statics: list[tuple[_Profile, int]], vectors: np.ndarray) -> np.ndarray:
    """One row of FEATURES per candidate; the cosines in one matrix product."""
    n = len(items)
    out = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return out
    hits = retrieval.hits
    col = {name: j for j, name in enumerate(FEATURES)}
    cos = vectors @ np.asarray(retrieval.query_vector, dtype=np.float32)
    out[:, col["cosine"]] = cos
    out[:, col["cosine_gap"]] = cos - cos.max()
    ranks = np.empty(n, dtype=np.float32)
    ranks[np.argsort(-cos, kind="stable")] = np.arange(n, dtype=np.float32)
    out[:, col["cosine_top"]] = 1.0 / (1.0 + ranks)
    best_hit = max((h.score for h in hits), default=0.0) or 1.0
    total_weight = sum(weights.values()) or 1.0
    compared = compared_terms(retrieval.question) if intent.kind == COMPARISON else None
    defined = defined_terms(retrieval.question) if intent.kind == DEFINITION else frozenset()
    asked = qterms.all
    phrases = set(content_bigrams(retrieval.question))
    out[:, col["centrality"]] = centrality(items, hits, vectors)
    figure_asked = intent.kind in (FIGURE, DIAGNOSIS)
    kinds = intent.kinds()
    weighted = tuple(weights.items())  # summed in this order, as always: a float sum depends on its order
    contexts: dict[int, _HitContext] = {}
    rows = []
    for s, (p, count) in zip(items, statics):
        if s.hit not in contexts:
            contexts[s.hit] = hit_context(hits[s.hit], intent, asked, best_hit)
        ctx = contexts[s.hit]
        terms = s.terms
        key = sum(w for t, w in weighted if t in terms)
        key_ctx = sum(w for t, w in weighted if t in terms or t in ctx.terms)
        rows.append((  # in the order of _ROW_COLUMNS
            ctx.chunk_score,
            1.0 / (1.0 + s.hit),
            key / total_weight if weights else 1.0,
            key_ctx / total_weight if weights else 1.0,
            (len(qterms.generic & terms) / len(qterms.generic)) if qterms.generic else 0.0,
            ctx.heading_match,
            ctx.heading_intent,
            sentence_cue(p.text, kinds),
            bool(defined) and defines(s.text, defined),
            bool(compared) and bool(terms & compared[0]) and bool(terms & compared[1]),
            figure_asked and p.has_number,
            p.position == 0,
            p.position / (count - 1) if count > 1 else 0.0,
            document_position(ctx.chunk_number, ctx.chunks, p.position, count),
            p.back_reference,
            p.setup,
            min(1.0, p.words / LONG_SENTENCE_WORDS),
            p.cites_sources,
            p.statistics,
            p.claim,
            len(phrases.intersection(p.bigrams)) / len(phrases) if phrases else 0.0,
            p.procedure,
            p.present_tense,
        ))
    # one float64 array cast to float32 in one go: each value rounds as it did when set one cell at a time
    out[:, _ROW_COLUMN_INDEXES] = np.array(rows, dtype=np.float64)
    return out


# The columns feature_matrix fills from one tuple per candidate, in the tuples' order (the cosine columns and
# centrality are whole-matrix operations). Building the rows as tuples and storing them at once costs a
# fraction of setting 23 cells of a numpy row one by one.
_ROW_COLUMNS = (
    "chunk_score", "chunk_rank", "key_terms", "key_terms_context", "template_terms", "heading_match",
    "heading_intent", "sentence_intent", "defines", "both_sides", "number_for_figure", "first_in_chunk",
    "position_in_chunk", "position_in_document", "back_reference", "setup", "length", "cites_sources",
    "statistics", "claim", "question_phrases", "procedure", "present_tense",
)
_ROW_COLUMN_INDEXES = [FEATURES.index(name) for name in _ROW_COLUMNS]
assert len(_ROW_COLUMNS) + 4 == len(FEATURES)  # + cosine, cosine_gap, cosine_top, centrality


@dataclass(frozen=True)
class _HitContext:
    """The features of a candidate that depend only on its hit (chunk), computed once per hit."""

    terms: frozenset[str]  # content terms of the document's title and the chunk's heading
    heading_match: float
    heading_intent: bool
    chunk_score: float
    chunk_number: int  # the chunk's number within its document
    chunks: int  # the document's chunk count (at least 1)


def hit_context(hit, intent: Intent, asked: frozenset[str], best_hit: float) -> _HitContext:
    """The hit-level features of the candidates of one hit."""
    m = _CHUNK_NUMBER.search(hit.chunk.chunk_id)
    return _HitContext(
        content_terms(f"{hit.document.meta.title} {hit.chunk.heading}"),
        jaccard(asked, content_terms(hit.chunk.heading)),
        intent.heading_cue(hit.chunk.heading),
        max(0.0, hit.score / best_hit),
        int(m.group(1)) if m else 0,
        max(1, hit.document.chunk_count))


def centrality(items: list[Sentence], hits, vectors: np.ndarray) -> np.ndarray:
    """Each sentence's cosine to the normalised mean vector of its document's candidate sentences: a
    sentence close to what the whole passage says (a conclusion, a summary) rather than one detail."""
    docs = np.array([hits[s.hit].document.doc_id for s in items], dtype=object)
    out = np.zeros(len(items), dtype=np.float32)
    for doc in set(docs.tolist()):
        rows = np.flatnonzero(docs == doc)
        mean = vectors[rows].astype(np.float32).sum(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            out[rows] = vectors[rows] @ (mean / norm)
    return out


def document_position(chunk_number: int, chunks: int, position: int, count: int) -> float:
    """Where the sentence sits in its document, 0 (start) to 1 (end), from its chunk's number among the
    document's `chunks` and its position among the chunk's `count` sentences."""
    within = position / count if count else 0.0
    return min(1.0, (chunk_number + within) / chunks)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b|, 0 for empty sets."""
    return len(a & b) / len(a | b) if a and b else 0.0
