"""What a question asks for (its intent), and the sentence and heading cues of an answer of that kind.

The intent is read from the question's wording (its interrogative frame, not its topic): "How accurate
is the slump test?" asks for test accuracy, "What are the causes of X?" for a list of causes. Each intent
carries two cue patterns: one a sentence giving that kind of answer matches ("sensitivity of 0.84"),
one a section heading over such sentences matches ("Diagnosis", "Treatment"). The learned scorer
(service/scoring.py) weighs how much a cue match counts; nothing here decides on its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DEFINITION, CAUSE, DIAGNOSIS, TREATMENT, PROGNOSIS = "definition", "cause", "diagnosis", "treatment", "prognosis"
SYMPTOM, FIGURE, COMPARISON, YES_NO, LIST, GENERAL = "symptom", "figure", "comparison", "yes/no", "list", "general"
INTENTS = (DEFINITION, CAUSE, DIAGNOSIS, TREATMENT, PROGNOSIS, SYMPTOM, FIGURE, COMPARISON, YES_NO, LIST, GENERAL)

_I = re.IGNORECASE

# "How long does X last?", "How quickly does X get better?": the time course of a condition or of a treatment's
# effect. The gap is bounded: with ".*" a 2,000-character question repeating "how long" took 26 ms to reject.
_TIME_COURSE_QUESTION = re.compile(r"\bhow (long|soon|quickly|fast)\b.{0,120}?\b(last|lasts|take|takes|persist|"
                                   r"continue|go on|recover|improve|heal|settle|resolve|get better|go away)\b", _I)
# A sentence giving a time course: a span of time ("over weeks to months", "at 12 months", "within six weeks").
_STATES_TIME_COURSE = re.compile(r"\b(\d+(\.\d+)?|a few|few|several|many|one|two|three|four|five|six|eight|ten|"
                                 r"twelve)(-| )(hours?|days?|weeks?|months?|years?)\b|"
                                 r"\b(hours|days|weeks|months) (to|or) (days|weeks|months|years)\b", _I)

# Question frames, tried in this order: the first that matches names the intent. More specific frames
# (accuracy, figures, comparisons) come before the broad ones (yes/no, definition) they would also match.
_QUESTION_FRAMES: tuple[tuple[str, re.Pattern], ...] = (
    # The time course of a condition (a prognosis), which sources give in words ("over weeks to months") as
    # often as in figures; before FIGURE's "how long".
    (PROGNOSIS, _TIME_COURSE_QUESTION),
    # "Does a herniated disc shrink without surgery?", "Can sciatica get better without treatment?": what happens
    # untreated, the natural history; before TREATMENT, whose "surgery" it names
    (PROGNOSIS, re.compile(r"\bwithout (any )?(surgery|treatment|an operation|operating|intervention|therapy)\b", _I)),
    (DIAGNOSIS, re.compile(r"\b(red flags?|warning signs?|how (accurate|reliable|sensitive|specific|useful|good)|"
                           r"accuracy|sensitivity|"
                           r"specificity|predictive value|likelihood ratio|diagnos\w*|test(s|ed|ing)? for|"
                           r"detect\w*|imaging|scan|x-ray|mri)\b", _I)),
    (COMPARISON, re.compile(r"\b(differences?|distinction|distinguish|differ|different (from|to)|compare[sd]?|"
                            r"comparison|versus|vs\.?|rather than|tell\b.{1,80}\b(from|apart)|told apart|"
                            r"better than|worse than|more (effective|common) than)\b", _I)),
    (FIGURE, re.compile(r"\b(how (many|much|long|often|old|large|high|low|common|frequent)|what (percentage|proportion"
                        r"|number|rate|dose|size|age|year|month)|which year|when (was|were|did)|incidence|prevalence"
                        r"|how big|what (is|was) the (rate|risk|incidence|prevalence|mortality|number|percentage"
                        r"|proportion|duration|dose|size|average|mean|median))\b", _I)),
    (LIST, re.compile(r"\b(what are the (main |common |most common |possible |usual |key )?(causes|types|options|"
                      r"symptoms|signs|risk factors|treatments|complications|features|stages|forms|sources|"
                      r"structures|conditions)|which (structures|conditions|treatments|options|causes|drugs)|"
                      r"list|options for|kinds of|types of)\b", _I)),
    (TREATMENT, re.compile(r"\b(treat\w*|therap\w*|manag\w*|what helps|relie\w*|cure\w*|medication|drugs?|surgery|"
                           r"exercise|rehabilitation|physiotherapy|injection|intervention|prevent\w*|what can be done"
                           r"|should .* (do|take|avoid))\b", _I)),
    (CAUSE, re.compile(r"\b(genetic (changes?|basis|causes?|mutations?)|(which|what) (genes?|mutations?)|"
                       r"(genes?|mutations?) (related|linked|associated|involved)|causes?|caused|why|what leads to|"
                       r"risk factors?|due to|etiology|aetiology|origin|at (higher |greater |most )?risk|"
                       r"who (gets|get|develops|develop|is affected|are affected|is likely to|are likely to)|"
                       r"source of|where does .* come from)\b", _I)),
    (PROGNOSIS, re.compile(r"\b(prognosis|outlook|outcomes?|recover\w*|survival|mortality|go away|get better|"
                           r"last|how long|natural history|course)\b", _I)),
    # "How does X present?", "What does X feel like?", "Where is X felt?": how the condition shows itself. After
    # treatment, cause and prognosis ("How can the symptoms be relieved?" asks for a treatment), and asked with
    # a wh-word only ("Do the symptoms of X predict Y?" is a yes/no question).
    (SYMPTOM, re.compile(r"^\W*(what|which|how|where)\b.{0,80}?\b(symptoms?|signs? (of|and)|presents?|presentation|"
                         r"feels? like|felt|hurts?)\b", _I)),
    (DEFINITION, re.compile(r"^\s*(what (is|are) (an? |the )?[^?]{1,60}\??\s*$|define|definition of|meaning of|"
                            r"what does .* mean)", _I)),
    (YES_NO, re.compile(r"^\s*(is|are|can|could|does|do|did|should|will|would|was|were|has|have|may|might)\b", _I)),
)

# Cues of a sentence that gives each kind of answer: generic clinical and research English, chosen per
# intent from what such an answer must contain (a figure, a causal verb, a recommendation ...).
_SENTENCE_CUES: dict[str, re.Pattern] = {
    DEFINITION: re.compile(r"\b(is|are) (an?|the) |\brefers? to\b|\bis defined as\b|\bmeans\b|\bis a term\b", _I),
    CAUSE: re.compile(r"\b(caus\w*|due to|results? from|leads? to|trigger\w*|risk factors?|associated with|"
                      r"responsible for|arises? from|origin\w*|sources?)\b", _I),
    DIAGNOSIS: re.compile(r"\b(sensitivity|specificity|accura\w*|predictive values?|likelihood ratios?|auc|area under|"
                          r"diagnos\w*|detect\w*|false (positive|negative)s?|reliab\w*|kappa|agreement|"
                          r"confirm\w*|rule[sd]? (in|out))\b", _I),
    TREATMENT: re.compile(r"\b(treat\w*|therap\w*|recommend\w*|manag\w*|first-line|effective|improv\w*|relie\w*|"
                          r"surgery|surgical|medication|drugs?|exercise|injection|advise\w*|should)\b", _I),
    PROGNOSIS: re.compile(r"\b(prognos\w*|outcomes?|recover\w*|resolv\w*|surviv\w*|mortality|improv\w*|"
                          r"(over|within|after|for|by|in) (a few |several |many |[\d.]+ |\w+ )?(days|weeks|months|"
                          r"years)|most people|persist\w*|chronic|relaps\w*)\b", _I),
    # what a patient feels or a clinician sees; not "pain" itself, which every sentence of a pain article says
    SYMPTOM: re.compile(r"\b(symptoms?|signs?|present(s|ed|ing|ation)?|complain\w*|ach(e|es|ing)|tender\w*|"
                        r"numb\w*|tingl\w*|weak(ness)?|stiff\w*|swell\w*|swollen|fever|fatigue|felt|feels?|"
                        r"worse|aggravat\w*|radiat\w*|spread\w*|characteri[sz]ed by|manifest\w*|experience)\b", _I),
    FIGURE: re.compile(r"\d"),
    COMPARISON: re.compile(r"\b(than|compared (with|to)|whereas|while|unlike|differ\w*|versus|vs\.?|both|"
                           r"similar|in contrast)\b", _I),
    YES_NO: re.compile(r"\b(suggest\w*|show\w*|found|find\w*|indicat\w*|demonstrat\w*|conclu\w*|associated|"
                       r"significant\w*|no (significant )?(difference|effect|evidence|association)|did not|"
                       r"does not|do not|is not|are not|may|support\w*)\b", _I),
    LIST: re.compile(r"\b(include|includes|including|such as|are|range from)\b[^.]*,[^.]*,|:\s*\w+[^.]*,", _I),
    GENERAL: re.compile(r"(?!x)x"),  # matches nothing: a general question has no cue
}

# A reason given for something ("... is not induced by interferons because the region upstream lacks ...").
_REASON = re.compile(r"\b(because|owing to)\b", _I)

# "How is X diagnosed?", "How should X be managed?": the answer is the steps or options a source sets out side
# by side (history, examination, imaging, blocks), not one conclusion.
_HOW_IS_IT_DONE = re.compile(r"^\W*how (is|are|do|does|should|can|could|would|to)\b.*\b(diagnos|treat|manag|assess|"
                             r"investigat|evaluat)\w*", _I)

# "How accurate is the slump test?", "What is the sensitivity of X?": asks for a test's accuracy, which a source
# gives as figures ("a sensitivity of 0.84 and a specificity of 0.83").
_ACCURACY_QUESTION = re.compile(r"\bhow (accurate|sensitive|specific|reliable)\b|\b(accuracy|sensitivity|"
                                r"specificity|predictive values?|likelihood ratios?)\b", _I)
# A sentence reporting an accuracy figure: the measure, then a number within the same clause.
_ACCURACY_FIGURE = re.compile(r"\b(sensitivit(y|ies)|specificit(y|ies)|likelihood ratios?|predictive values?|"
                              r"accuracy|area under the curve|auc|kappa)\b[^.;]{0,80}?\d", _I)

# "Does acupuncture help low back pain?", "Is spinal manipulation recommended for ...?": a yes/no question about
# what an intervention or test does; its subject (between the auxiliary and the verb of effect) is what the
# answer must be about.
_EFFECT_QUESTION = re.compile(
    r"^\W*(does|do|can|could|will|would|is|are|should)\s+(?P<subject>[^?]{2,60}?)\s+(be\s+)?(?P<effect>help|helps|"
    r"work|works|improve|improves|relieve|relieves|reduce|reduces|ease|eases|prevent|prevents|cure|cures|recommended|"
    r"effective|useful|helpful|beneficial|worthwhile|safe|good|advised|indicated|needed|necessary|used|offered|done|"
    r"performed|prescribed|given)\b",
    _I)
# "Should I use heat or ice for buttock pain?", "Can patients take ibuprofen for sciatica?": the same question
# asked of the person using it; what they would use is the subject.
_PERSONAL_USE_QUESTION = re.compile(
    r"^\W*(should|can|could|may|must)\s+(i|we|you|patients?|people|one)\s+(?P<effect>use|take|try|do|have|get|"
    r"start|avoid|apply|wear)\s+(?P<subject>[^?]{2,60}?)\s*(\b(for|to|with|after|when|if|during)\b|\?|$)",
    _I)
# "Are opioids recommended for low back pain?", "Should imaging be done ...?": asks what sources advise, which a
# guideline or review states as advice ("NICE advises against ... opioids"), not a finding that names X.
_ADVICE_EFFECTS = frozenset({"recommended", "advised", "indicated", "offered"})
_STATES_ADVICE = re.compile(r"\b(recommend\w*|advis\w*|suggest\w*|guidelines?|should|first[- ]line|"
                            r"second[- ]line)\b", _I)

# "What imaging is best for X?", "Which drug is most effective?", "What is the first-line treatment?": asks for
# the top option, which a source states as such ("MRI is the most sensitive imaging test").
_SUPERLATIVE = re.compile(r"\b(best|most (effective|accurate|sensitive|specific|useful|appropriate|reliable|"
                          r"helpful)|first[- ]line|first choice|preferred|gold standard|reference standard)\b", _I)

# "What imaging is recommended for X?", "Which drug is preferred for Y?": asks for the top option as much as
# "What is the best imaging for X?" does. In the plural ("Which drugs are recommended for sciatica?") it asks for
# the options, a list.
_RECOMMENDED_OPTION = re.compile(r"^\W*(what|which)\b.*\bis\s+(recommended|preferred|advised|indicated)\b", _I)

# "Who gets X?", "Who is at risk of X?": asks which people a condition affects, which a source states as a
# population ("occur mainly in older women with osteoporosis", "is seen mainly in runners").
_POPULATION_QUESTION = re.compile(r"^\W*who\b[^?]{0,40}?\b(gets?|develops?|is affected|are affected|is at risk|"
                                  r"are at risk|is most at risk|are most at risk|is likely to|are likely to|suffers?)\b",
                                  _I)
_STATES_POPULATION = re.compile(r"\b(occurs?|occurring|seen|develops?)\b[^.;]{0,40}?\b(in|among)\b|\b(mainly|mostly|"
                                r"especially|particularly|typically|usually|most often)\s+(in|among)\b|\baffect(s|ing)?\b",
                                _I)

# A question asked with a wh-word rather than for a yes or a no.
_OPEN_QUESTION = re.compile(r"^\W*(what|how|which|why|in what way|where|when|who|whom|whose)\b", _I)

# A sentence that lists things of the asked kind names them as its subject ("The discs, the facet joints
# and the hip joint can all refer pain ...") or after "by", "from" or "of" ("... caused by X, Y or Z", "lead
# to development of a cough, rhinitis, fever and other symptoms"). Commas elsewhere usually set off an
# apposition or clauses ("at the ischial tuberosity, the 'sitting bone', that is ...", "In most people with
# ..., no single structure ..., and ..."). A listed item is a noun phrase: at most 40 characters for the
# items before the last keeps out clauses.
_SERIES = r"(?:[^,.;:]{3,40}, )+[^,.;:]{3,40},? (and|or) [^,.;:]{3,60}"
_ENUMERATING_SERIES = re.compile(rf"(?:^\W*|\b(?:by|from|of) ){_SERIES}", _I)

# Headings of sections that hold each kind of answer.
_HEADING_CUES: dict[str, re.Pattern] = {
    DEFINITION: re.compile(r"\b(what is|what are|definitions?|overview|introduction|background|about)\b", _I),
    CAUSE: re.compile(r"\b(causes?|etiology|aetiology|risk factors?|pathophysiology|mechanisms?|why)\b", _I),
    DIAGNOSIS: re.compile(r"\b(diagnos\w*|tests?|testing|examination|imaging|assessment|accuracy|evaluation|"
                          r"investigations?|clinical features)\b", _I),
    TREATMENT: re.compile(r"\b(treatments?|therap\w*|management|managing|what helps|self-care|interventions?|"
                          r"surgery|rehabilitation|exercise|medications?|prevention)\b", _I),
    PROGNOSIS: re.compile(r"\b(prognosis|outlook|outcomes?|natural history|course|recovery|follow-up)\b", _I),
    SYMPTOM: re.compile(r"\b(symptoms?|signs?|clinical (features|presentation|picture)|presentation|presenting|"
                        r"felt|feel|feels)\b", _I),
    FIGURE: re.compile(r"\b(results?|findings|epidemiology|incidence|prevalence|statistics)\b", _I),
    COMPARISON: re.compile(r"\b(differen\w*|distinguish\w*|comparison|versus|vs)\b", _I),
    YES_NO: re.compile(r"\b(conclusions?|results?|findings|discussion|summary)\b", _I),
    LIST: re.compile(r"\b(causes?|types|options|symptoms|signs|features|forms|conditions)\b", _I),
    GENERAL: re.compile(r"(?!x)x"),
}


# The items a list question asks for, when they are another intent's kind of answer: "What are the treatments
# for X?" wants a list, and a sentence about treating X answers it too (as does a "Treatment" section).
_LIST_ITEMS: tuple[tuple[str, re.Pattern], ...] = (
    (TREATMENT, re.compile(r"\b(treatments?|therapies|options|interventions|drugs|medications)\b", _I)),
    (CAUSE, re.compile(r"\b(causes|risk factors)\b", _I)),
    (SYMPTOM, re.compile(r"\b(symptoms|signs|features|presentations?)\b", _I)),
)


@dataclass(frozen=True)
class Intent:
    """What kind of answer the question wants."""

    kind: str  # one of INTENTS
    items: str = ""  # for a LIST question, the intent its items belong to (TREATMENT for "treatments"), else ""
    # The answer is several statements, not one conclusion: a list, or a comparison asked openly ("What is the
    # difference between X and Y?", "How does X differ from Y?"; "X versus Y: is there a difference?" and
    # "Is X better than Y?" want one verdict).
    several: bool = False
    # Asked with a wh-word ("What is the mortality rate of X?"), not for a yes or a no.
    open: bool = False
    # Asks openly for a test's accuracy ("How accurate is X?"), which a source reports as figures.
    accuracy: bool = False
    # For a yes/no question about what an intervention does, the words naming it ("acupuncture"), else "".
    subject: str = ""
    # Asks openly for the top option ("What imaging is best for X?").
    superlative: bool = False
    # Asks which people a condition affects ("Who gets X?").
    population: bool = False
    # Asks how long a condition or an effect lasts ("How long does sciatica usually last?").
    time_course: bool = False
    # A yes/no question about what sources advise on an intervention ("Are opioids recommended for X?").
    advice: bool = False

    def sentence_cue(self, sentence: str) -> bool:
        """The sentence gives this kind of answer (a figure for a figure question, ...)."""
        return gives_answer_of(self.kinds(), sentence)

    def heading_cue(self, heading: str) -> bool:
        """The section heading is where this kind of answer is found."""
        return bool(heading) and any(_HEADING_CUES[kind].search(heading) for kind in self.kinds())

    def reports_accuracy(self, sentence: str) -> bool:
        """An accuracy question, and the sentence reports an accuracy figure ("a sensitivity of 0.84")."""
        return self.accuracy and bool(_ACCURACY_FIGURE.search(sentence))

    def states_superlative(self, sentence: str) -> bool:
        """A question asking for the top option, and the sentence names one as such ("the most sensitive")."""
        return self.superlative and bool(_SUPERLATIVE.search(sentence))

    def states_population(self, sentence: str) -> bool:
        """A question asking who gets a condition, and the sentence says whom it affects ("mainly in runners")."""
        return self.population and bool(_STATES_POPULATION.search(sentence))

    def states_time_course(self, sentence: str) -> bool:
        """A question asking how long something lasts, and the sentence gives a span of time ("improves over
        weeks to months")."""
        return self.time_course and bool(_STATES_TIME_COURSE.search(sentence))

    def states_fact_asked(self, sentence: str) -> bool:
        """The sentence states the one fact a "Who gets X?" or "How long does X last?" question asks for."""
        return self.states_population(sentence) or self.states_time_course(sentence)

    def states_cause(self, sentence: str) -> bool:
        """A question asking for a cause, and the sentence gives one: a causal verb, or a reason ("because").
        (The scorer's cue leaves "because" out: as a feature it lifted "Vascular claudication differs from
        neurogenic claudication because ..." among the causes of buttock pain.)"""
        return self.kind == CAUSE and (gives_answer_of((CAUSE,), sentence) or bool(_REASON.search(sentence)))

    def states_advice(self, sentence: str) -> bool:
        """A question about what sources advise, and the sentence gives advice ("NICE advises against ...")."""
        return self.advice and bool(_STATES_ADVICE.search(sentence))

    def enumerates(self, sentence: str) -> bool:
        """A list question, and the sentence is a list of the kind asked for ("X, Y and Z can all cause ...")."""
        return self.kind == LIST and bool(_SENTENCE_CUES[LIST].search(sentence)
                                          or _ENUMERATING_SERIES.search(sentence))

    def other_kind_of_section(self, heading: str) -> bool:
        """The question asks for one of the CLINICAL_KINDS, and the heading is over a section about other
        clinical kinds only, none of which answers it too ("How is X diagnosed?" under a treatment question):
        its sentences are on the asked condition but answer a different question."""
        return other_kind_for(self.kinds(), heading)

    def kinds(self) -> tuple[str, ...]:
        """The kinds of answer that count: the intent's own, and its items' for a list."""
        return (self.kind, self.items) if self.items else (self.kind,)


def gives_answer_of(kinds: tuple[str, ...], sentence: str) -> bool:
    """The sentence matches the sentence cue of one of the kinds of answer (Intent.sentence_cue)."""
    return any(_SENTENCE_CUES[kind].search(sentence) for kind in kinds)


# The kinds of clinical question whose answers sit in sections of their own in a review or a patient article.
CLINICAL_KINDS = (CAUSE, DIAGNOSIS, SYMPTOM, TREATMENT, PROGNOSIS)
# Sections of another kind that still answer the question: a diagnosis section describes the symptoms that lead
# to the diagnosis ("pain at the sitting bone, worse when sitting") and a symptoms section the signs a clinician
# looks for; a section on what a condition causes ("Can the hip joint cause buttock pain?") says where its pain
# is felt.
_ALSO_ANSWERS = {SYMPTOM: (DIAGNOSIS, CAUSE), DIAGNOSIS: (SYMPTOM,)}


@lru_cache(maxsize=10_000)
def other_kind_for(kinds: tuple[str, ...], heading: str) -> bool:
    """Intent.other_kind_of_section for the question's kinds of answer; cached: selection asks it of every
    candidate of every answer, and a corpus has few headings."""
    asked = set(kinds) & set(CLINICAL_KINDS)
    asked |= {near for kind in asked for near in _ALSO_ANSWERS.get(kind, ())}
    section = section_kinds(heading)
    return bool(asked) and bool(section) and not section & asked


@lru_cache(maxsize=10_000)
def section_kinds(heading: str) -> frozenset[str]:
    """The clinical kinds of answer a section holds: a heading phrased as a question, its intent (its items'
    for a list); another heading, every clinical kind whose heading cue it matches ("Diagnosis and
    management": two). Cached: a corpus has few headings and every answer asks about its candidates'."""
    if heading.rstrip().endswith("?"):
        intent = question_intent(heading)
        return frozenset({intent.items or intent.kind}) & frozenset(CLINICAL_KINDS)
    return frozenset(kind for kind in CLINICAL_KINDS if _HEADING_CUES[kind].search(heading))


def question_intent(question: str) -> Intent:
    """The intent of a question: the first matching frame (else GENERAL), and what else its wording asks for."""
    kind = next((kind for kind, frame in _QUESTION_FRAMES if frame.search(question)), GENERAL)
    is_open = bool(_OPEN_QUESTION.match(question))
    effect = _EFFECT_QUESTION.match(question) or _PERSONAL_USE_QUESTION.match(question)
    return Intent(
        kind,
        items=list_items(question) if kind == LIST else "",
        several=(kind == LIST or (kind == COMPARISON and is_open)
                 or (kind in (DIAGNOSIS, TREATMENT) and bool(_HOW_IS_IT_DONE.match(question)))),
        open=is_open,
        accuracy=is_open and kind == DIAGNOSIS and bool(_ACCURACY_QUESTION.search(question)),
        subject=effect.group("subject").strip() if effect else "",
        advice=asks_advice(effect),
        superlative=is_open and bool(_SUPERLATIVE.search(question) or _RECOMMENDED_OPTION.search(question)),
        population=bool(_POPULATION_QUESTION.search(question)),
        time_course=is_open and bool(_TIME_COURSE_QUESTION.search(question)),
    )


def asks_advice(effect: re.Match | None) -> bool:
    """A yes/no question about an intervention's effect (its `_EFFECT_QUESTION` match) asks whether the
    intervention is advised: "Is X recommended ...?", "Should X be done?"."""
    return bool(effect) and (effect.group("effect").lower() in _ADVICE_EFFECTS or effect.group(1).lower() == "should")


def list_items(question: str) -> str:
    """The intent a list question's items belong to, else ""."""
    return next((kind for kind, pattern in _LIST_ITEMS if pattern.search(question)), "")
