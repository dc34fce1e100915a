"""Question and sentence text: terms, stems, the boilerplate filter and question frames (definition, comparison).

Plain Python over strings, shared by the candidate, selection and composition stages. Caches hold
tuples of strings, never sets: the garbage collector stops tracking such tuples, so a cache of 100k
chunks' sentences does not make every full collection walk it (with frozensets cached, full collections
paused every request in flight for up to 250 ms, measured with gc.callbacks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


# Words that carry no topic. Question templates ("what are the symptoms of X") add the
# GENERIC words below: they steer which sentence answers, but never decide whether the
# sources are about the question at all.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each either else ever every few
    for from further get gets getting give given go goes going had has have having he her here hers him his
    how however i if in into is it its itself just know let like likely made make makes many may me might
    more most much must my near need needs no nor not now of off often on once one only or other our out
    over own per please put rather really same say says she should since so some such tell than that the
    their them then there these they thing things this those through thus to too under until up upon us
    use used using very was way we well were what whats when where whether which while who whom whose why
    will with within without would yes yet you your""".split()
)
GENERIC = frozenset(
    """symptom sign cause treatment treat therapy therapi diagnos diagnosis prevent prevention outlook
    prognosis risk people person patient affect inherit genetic gene change research clinical trial
    information info type stage complication test manage management option common rare happen mean
    difference differ feel problem condition disease disorder syndrome called kind causes
    lead help best new related done available recognise recognize recognised recognized""".split()
)


class CaselessPattern:
    """A case-insensitive regex, written in lower case, that searches ASCII text case-sensitively in its
    lower-cased copy. On ASCII text lower-casing folds exactly the cases IGNORECASE folds (and keeps every
    offset), so it finds the same matches at the same places, only with the matched text lower-cased; it
    costs a third to a half as much, as IGNORECASE keeps the regex engine off its fast paths for literals.
    Other text is searched with the pattern as written, case-insensitively. For the patterns run on every
    sentence of every chunk an answer retrieves for the first time."""

    def __init__(self, pattern: str, flags: int = 0):
        literal = re.sub(r"\\.", "", pattern)  # the pattern without its escapes (\b, \W, \S ...)
        if literal != literal.lower():
            raise ValueError(f"a caseless pattern is written in lower case: {pattern!r}")
        self.pattern = pattern
        self.caseless = re.compile(pattern, flags | re.IGNORECASE)
        self.lowered = re.compile(pattern, flags)

    def search(self, text: str) -> re.Match | None:
        """Like re.Pattern.search, case-insensitively."""
        return self.lowered.search(text.lower()) if text.isascii() else self.caseless.search(text)

    def match(self, text: str) -> re.Match | None:
        """Like re.Pattern.match, case-insensitively."""
        return self.lowered.match(text.lower()) if text.isascii() else self.caseless.match(text)


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_WS = re.compile(r"\s+")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'causes'/'cause' and 'buttocks'/'buttock'."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed") and not w.endswith("eed"):
        return w[:-2]
    if len(w) > 4 and w.endswith("es") and w[-3] in "sxzh":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


# stemmed here, so the words above are listed as written ("diagnosis", not its stem: stem() keeps "-is")
GENERIC = frozenset(stem(w) for w in GENERIC)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, unstemmed."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def content_terms(text: str) -> frozenset[str]:
    """Stemmed words that are not stopwords (numbers and words of two letters or more); cached."""
    return frozenset(_content_terms(text))


@lru_cache(maxsize=200_000)
def _content_terms(text: str) -> tuple[str, ...]:
    """content_terms as a tuple of strings.

    Caches hold tuples of strings, never sets: the garbage collector stops tracking such tuples, so
    a cache of 100k chunks' sentences does not make every full collection (which pauses every request
    in flight) walk it; with frozensets cached, those pauses reached 250 ms (measured with gc.callbacks).
    """
    return term_set(text, content_sequence(text))


PERCENTAGE = stem("percentage")


def term_set(text: str, sequence: list[str]) -> tuple[str, ...]:
    """The distinct terms of a text's content sequence, with PERCENTAGE when the text has a "%": "15%" gives a
    percentage as much as the word does ("What percentage of ... died?")."""
    terms = set(sequence)
    if "%" in text:
        terms.add(PERCENTAGE)
    return tuple(terms)


def content_sequence(text: str) -> list[str]:
    """The text's content terms in reading order: stemmed words that are not stopwords (numbers and words of
    two letters or more)."""
    return [t for t in map(content_term, words(text)) if t]


@lru_cache(maxsize=100_000)
def content_term(word: str) -> str:
    """The stem of a word that is a content term (see content_sequence), else "" (a stem is never empty);
    cached: one lookup per word instead of a stopword test, a length test and a stem."""
    return stem(word) if word not in STOPWORDS and (len(word) > 1 or word.isdigit()) else ""


def terms_and_bigrams(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """content_terms (as a tuple) and content_bigrams of a text from one pass over its words: profiling a
    chunk needs both of every sentence. Uncached (the chunk profile is)."""
    seq = content_sequence(text)
    return term_set(text, seq), tuple(sorted(set(zip(seq, seq[1:]))))


@lru_cache(maxsize=200_000)
def content_bigrams(text: str) -> tuple[tuple[str, str], ...]:
    """Adjacent pairs of the text's content terms in reading order (stopwords skipped, so "pain in the
    lower back" and "lower back pain" share ("lower", "back")); cached, as tuples (see content_terms)."""
    seq = content_sequence(text)
    return tuple(sorted(set(zip(seq, seq[1:]))))


# A question term no chunk of the index holds is a misspelling or a variant of one it holds when the two differ
# by at most this many edits: 1 from FUZZY_MIN_LENGTH letters ("carageenan"/"carrageenan"), 2 from
# FUZZY_MIN_LENGTH_2 ("immunoglobin"/"immunoglobulin"). Shorter words are left exact: at 5 letters one edit
# turns one anatomical word into another ("ileum"/"ilium").
FUZZY_MIN_LENGTH, FUZZY_MIN_LENGTH_2 = 7, 10


def run_together(term: str, seen: frozenset[str] | set[str]) -> bool:
    """`term` is two seen words (or a seen word and a stopword) written as one: "covid19", "ofwater"."""
    for i in range(2, len(term) - 1):
        head, tail = term[:i], term[i:]
        if all(stem(part) in seen or part in STOPWORDS for part in (head, tail)) and not (
                head in STOPWORDS and tail in STOPWORDS):
            return True
    return False


def misspelling_of(term: str, seen: frozenset[str] | set[str]) -> bool:
    """`term` is within the edit distance above of a seen term ("carageenan"/"carrageenan")."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import extractOne

    if len(term) < FUZZY_MIN_LENGTH:
        return False
    edits = 2 if len(term) >= FUZZY_MIN_LENGTH_2 else 1
    return extractOne(term, seen, scorer=Levenshtein.distance, score_cutoff=edits) is not None


def variant_of(term: str, seen: frozenset[str] | set[str], fuzzy: bool = True) -> bool:
    """`term` (a stemmed word) is written differently from the `seen` terms: run together, or (when `fuzzy`)
    misspelt."""
    return run_together(term, seen) or (fuzzy and misspelling_of(term, seen))


@dataclass(frozen=True)
class QueryTerms:
    """The question's content terms split into topic terms and generic template words."""

    topic: frozenset[str]
    generic: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        """Topic and generic terms together."""
        return self.topic | self.generic


# Words of a question's frame rather than its topic: "How long does X usually last?", "What is the role of X
# in Y?", "Who gets X?". The frame says what kind of answer is wanted (service/intent.py reads it); counted as
# topic terms, "long" and "last" made "Exercise is recommended for long-lasting low back pain" the answer to
# how long sciatica lasts, and a source that never says "usually" looked as if it missed part of the question;
# likewise "get better" and "take to heal" in "How quickly does sciatica get better?", "How long does a sacral
# fracture take to heal?".
# ("What are the risk factors for proximal hamstring tendinopathy?" took "Other risk factors include pelvic
# radiotherapy ..." from the sacral fracture article: "factor" counted as a topic term; "How accurate are
# sacroiliac provocation tests?" took a hamstring article's "all three tests were reliable and reasonably
# accurate", which named "accurate".)
_FRAME_WORDS = re.compile(
    r"\bhow (long|soon|quickly|fast|far|accurate|reliable|sensitive|specific|useful|effective)\b|"
    r"\b(usually|typically|generally|normally|ordinarily)\b|"
    r"\b(last|lasts|persist|persists|(take|takes)( to (heal|recover|improve|settle|resolve|get better|go away))?|"
    r"get better|go away|improve|improves|recover|recovers|heal|heals|settle|settles|resolve|resolves)\W*$|"
    r"\brole of\b|\bwho (gets|get|develops|develop)\b|"
    r"\brisk factors?\b",
    re.IGNORECASE)


# "When is surgery needed for X?", "When is imaging recommended for Y?": the verb asks for the indications; it
# is the question's frame, as "last" is in "How long does X last?". ("referred" is left out: "When should a
# patient with sciatica be referred for surgery?" then took an epidural injection's advice.)
_WHEN_NEEDED = re.compile(r"^\W*when\b[^?]*?\b(needed|necessary|required|indicated|considered|"
                          r"recommended|offered)\b", re.IGNORECASE)


def query_terms(question: str) -> QueryTerms:
    """Split a question's content terms into topic terms and template words (its frame's words included)."""
    terms = content_terms(question)
    frame = {t for m in _FRAME_WORDS.finditer(question) for t in content_terms(m.group(0))}
    frame |= {t for m in _WHEN_NEEDED.finditer(question) for t in content_terms(m.group(1))}
    generic = {t for t in terms if t in GENERIC or t in frame}
    return QueryTerms(frozenset(terms - generic), frozenset(generic))


def collapse(text: str) -> str:
    """Whitespace runs (newlines included) to single spaces: the contract allows it."""
    return _WS.sub(" ", text).strip()


# --- boilerplate --------------------------------------------------------------------------

_REF_HEADING = re.compile(r"^\s*(references?|bibliography|works cited|literature cited|sources|further reading)\b", re.I)
_CAPTION = re.compile(r"^\s*(fig(ure)?|table|box|chart|appendix)\s*\.?\s*[0-9ivx]+[a-z]?\b", re.I)
_COPYRIGHT = re.compile(r"(©|\(c\)\s*\d{4}|copyright|all rights reserved|creative commons|licen[cs]ed under|cc[- ]by)", re.I)
_IDENTIFIER = re.compile(r"\bdoi\s*:|\bdoi\.org/|\bpmid\b|\bpmcid\b|\bissn\b", re.I)
_VOLUME = re.compile(r"\b(19|20)\d{2}\s*;\s*\d+\s*(\(\w+\))?\s*:\s*\w?\d+")  # 2006;15(Suppl 1):S169
_ET_AL = re.compile(r"\bet al\.?,?\s.*\b(19|20)\d{2}\b.*\b\d+\s*[:(]")  # et al. ... 2006 ... 15:
_AUTHORS = re.compile(r"([A-Z][A-Za-z'\-]+\s+[A-Z]{1,3},\s*){2,}")  # "van Tulder M, Becker A, ..." at the start
_URL_ONLY = re.compile(r"^\W*(https?://\S+|www\.\S+)\W*$", re.I)
_LIST_MARK = re.compile(r"^\s*([-*\u2022]|\d+[.)])\s+")
MIN_WORDS, MAX_WORDS = 6, 80
# A sentence announcing what comes after it ("the following list of symptoms", "the table below") says nothing
# by itself: quoted alone it points at text the answer does not contain. It stands alone only when what it
# announces follows in the same sentence, after a colon. ("the following day" means the next one: not counted.)
_ANNOUNCES = CaselessPattern(r"\b(the following\b(?! (day|days|week|weeks|month|months|year|years|morning|"
                             r"night|evening|visit))|as follows|(listed|shown|given|described|summari[sz]ed) below|"
                             r"(table|figure|list|box|section) below)")
# "the general principles below", "the criteria above": a pointer to other text, unlike "below the knee".
_POINTS_ELSEWHERE = CaselessPattern(r"\b(below|above)(?=\s*[.,;:()]|\s*$)")
_ANNOUNCED_HERE = re.compile(r":\s*\S")


def is_boilerplate(sentence: str, heading: str = "") -> bool:
    """True for text that is not a statement of evidence: references, captions, legal lines, fragments."""
    s = sentence.strip()
    words = s.split()
    if not (MIN_WORDS <= len(words) <= MAX_WORDS):
        return True
    if _REF_HEADING.match(heading or ""):
        return True
    if s.endswith("?") or s.endswith(":") or announces_absent_text(s):
        return True
    if _CAPTION.match(s) or is_legal(s) or _URL_ONLY.match(s) or is_citation(s):
        return True
    if glued_heading(s):
        return True
    if not re.search(r"[.!]['\")\]]*$", s) and len(words) < 12:
        return True  # a heading alone or a list fragment, not a sentence
    letters = sum(map(str.isalpha, s))
    return letters < 0.6 * len(s.replace(" ", ""))  # tables of numbers, codes


# A heading has at most this many words ("How are sacral stress and insufficiency fractures treated?": 7).
HEADING_WORDS = 12
# Words a line of running text can end on but a heading does not: the sentence goes on after them.
_CONTINUING = frozenset("""a an the of in on at to for with by from and or nor but as than that which who whose
    its their his her is are was were be been can could may might must should will would not into onto""".split())


def glued_heading(sentence: str) -> bool:
    """A heading line glued to the sentence after it ("Causes\nMost pain ..."): a short first line without a
    full stop, followed by a line that starts a sentence (a capital). A sentence wrapped across the lines of a
    PDF has a short first line too when it starts mid-line ("... occur mainly in older women with
    postmenopausal osteoporosis\n(Lyders 2010)."), but its next line goes on in lower case, after a bracket
    or a number, or after a word a heading does not end on; until session 12 those were dropped as well: 75
    of the 536 stored sentences of the default corpus, nearly every sentence of its three PDFs that starts
    mid-line."""
    first, _, rest = sentence.partition("\n")
    words = first.split()
    if not rest or not words or len(words) > HEADING_WORDS or re.search(r"[.!]\s*$", first):
        return False
    return rest.lstrip()[:1].isupper() and words[-1].lower() not in _CONTINUING


def announces_absent_text(sentence: str) -> bool:
    """The sentence announces a list, table or text after it and does not itself contain it, or points at text
    above or below it."""
    if _POINTS_ELSEWHERE.search(sentence):
        return True
    return bool(_ANNOUNCES.search(sentence)) and not _ANNOUNCED_HERE.search(sentence)


def is_citation(s: str) -> bool:
    """A reference-list entry: an identifier, a year;volume:page, "et al. ... year ... volume:" or an author list.

    Each pattern runs only when the text has the characters it needs: these regexes scanned every
    sentence of every cold chunk and were the largest part of the boilerplate check.
    """
    low = s.lower()
    return bool((("doi" in low or "pmid" in low or "issn" in low) and _IDENTIFIER.search(s))
                or (";" in s and _VOLUME.search(s)) or ("et al" in s and _ET_AL.search(s))
                or ("," in s and _AUTHORS.match(s)))


_LEGAL_WORDS = ("\u00a9", "(c)", "copyright", "rights reserved", "creative commons", "licen", "cc-by", "cc by")


def is_legal(s: str) -> bool:
    """A copyright or licence line (the regex runs only when one of its words is there)."""
    low = s.lower()
    return any(w in low for w in _LEGAL_WORDS) and bool(_COPYRIGHT.search(s))


def strip_list_mark(text: str, start: int, end: int) -> int:
    """Skip a leading bullet or list number so the sentence reads as prose."""
    m = _LIST_MARK.match(text, start, end)
    return m.end() if m else start


_DEFINE = re.compile(r"^\s*what\s+(?:is|are)\s+(?:an?\s+|the\s+)?(.+?)\s*\??\s*$", re.I)


# "What is the difference between X and Y?" asks for a contrast: "X is ..." does not answer it
_CONTRAST = r"(?:differences?|distinction|relationship|link|connection)"
_COMPARISON = re.compile(rf"^(?:main\s+|key\s+)?{_CONTRAST}\b", re.I)


def defined_terms(question: str) -> frozenset[str]:
    """For "What is X?" the terms of X, whose definition ("X is ...") makes the best summary."""
    m = _DEFINE.match(question)
    if not m or _COMPARISON.match(m.group(1)):
        return frozenset()
    return frozenset(content_terms(m.group(1)))


# "When X is suspected, ...", "If X is treated early, ...": the term is the subject of a subordinate clause, not
# of a definition; "X is treated with ...", "X is suspected when ...": a passive says what is done with X, not
# what X is ("X is defined as / called / known as / characterised by ..." still define it).
_SUBORDINATE_OPENING = re.compile(r"^\W*(?:when|if|although|though|because|while|once|unless|after|before|since|as|"
                                  r"where|whether|until|"
                                  # a prepositional phrase: "In complex hip-spine syndrome, both contribute ..."
                                  # says something about X, with another subject
                                  r"in|for|among|during|with|without|on|at|by|from|of|to|like|unlike)\b",
                                  re.IGNORECASE)
_PASSIVE = re.compile(r"^\s*(?:(?:not|often|usually|also|sometimes|rarely|commonly|mainly|best)\s+)?"
                      r"(?!(?:defined|called|known|termed|characteri[sz]ed|named)\b)[a-z]+ed\b", re.IGNORECASE)


# "Offierski and MacNab (1983) introduced the term hip-spine syndrome for patients who have ...", "The term
# sciatica is used for ...": a sentence saying what a term is used for defines it wherever its subject is.
_TERM_FOR = re.compile(r"\bthe (?:term|name|label)\s+(.{1,80}?)\s+(?:for|to (?:describe|mean|denote|refer to)|"
                       r"describes|denotes|means|refers to|is used (?:for|to))\b", re.IGNORECASE)


def defines(sentence: str, defined: frozenset[str]) -> bool:
    """True when the sentence opens with the defined terms and then 'is'/'are' ("Sciatica is pain ..."), not in a
    subordinate clause or a passive, or says what the term is used for ("introduced the term X for ...")."""
    named = _TERM_FOR.search(sentence)
    if named and names_half(defined, named.group(1)):
        return True
    head = re.split(r"\b(?:is|are|refers to|means)\b", sentence, maxsplit=1)
    if len(head) < 2 or len(head[0].split()) > 10:
        return False
    if _SUBORDINATE_OPENING.match(head[0]) or _PASSIVE.match(head[1]):
        return False
    return names_half(defined, head[0])


def names_half(defined: frozenset[str], text: str) -> bool:
    """The text names at least half of the defined terms (one at least)."""
    found = defined & content_terms(text)
    return bool(found) and 2 * len(found) >= len(defined)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two term sets: the redundancy measure for MMR and merging."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


_BETWEEN = re.compile(rf"\b{_CONTRAST}\s+between\s+(.+?)\s+and\s+(.+?)"
                      r"\s*\??\s*$", re.I)
_VERSUS = re.compile(r"^(?:(?:what|how|which|is|are|does|do)\b.*?\b(?:is|are|between)\s+)?(.+?)\s+(?:vs\.?|versus)\s+"
                     r"(.+?)\s*\??\s*$", re.I)

_DIFFER = re.compile(r"\b(?:does|do|is|are)\s+(.+?)\s+(?:differ|different|compare)\s+(?:from|with|to)\s+"
                     r"(.+?)\s*\??\s*$", re.I)
# "How do you tell X from Y?", "How can X be told apart from Y?": the phrasings service/intent.py reads as a
# comparison, so the two sides are read from them too.
_TELL_APART = re.compile(r"\b(?:tell\s+(.+?)\s+(?:apart\s+)?from|(?:can|could|is|are)\s+(.+?)\s+(?:be\s+)?told\s+"
                         r"apart\s+from)\s+(.+?)\s*\??\s*$", re.I)


def compared_terms(question: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """For "the difference between X and Y", "X versus Y", "how does X differ from Y" or "how do you tell X from
    Y": the terms only X names and only Y names."""
    m = _BETWEEN.search(question) or _VERSUS.match(question) or _DIFFER.search(question)
    if m:
        a, b = content_terms(m.group(1)), content_terms(m.group(2))
    elif m := _TELL_APART.search(question):
        a, b = content_terms(m.group(1) or m.group(2)), content_terms(m.group(3))
    else:
        return None
    only_a, only_b = a - b, b - a
    return (only_a, only_b) if only_a and only_b else None


