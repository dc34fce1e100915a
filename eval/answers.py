"""Answer-level checks on /ask answers, through the HTTP layer's own conversion (service.schemas.AnswerOut).

Faithfulness and citation validity read interface version 2: the summary is plain text whose numbers are in
`summary_citations`, like every point's `citations`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from service.candidates import opens_leaning
from service.schemas import AnswerOut


def normalise(text: str) -> str:
    """Collapse whitespace so that "verbatim" ignores line breaks and double spaces."""
    return " ".join(text.split())


@dataclass(frozen=True)
class AnswerCheck:
    """What one answer got right: claims found verbatim, citation validity, abstention, relevant hit."""

    claims: int  # points, plus the summary when the answer did not abstain
    faithful: int  # claims found verbatim in a passage of a reference they cite
    citations_valid: bool
    abstained: bool
    hit: bool  # a cited reference is a relevant document
    leaning: int = 0  # claims that open with a word pointing at text before them ("These", "However,")


def _found_in_cited(text: str, numbers: Iterable[int], passages: Mapping[int, list[str]]) -> bool:
    """True when the text occurs verbatim (whitespace aside) in a passage of one of the cited references."""
    needle = normalise(text)
    return bool(needle) and any(needle in normalise(p) for n in numbers for p in passages.get(n, ()))


def _citations_valid(claims: list[tuple[str, list[int]]], numbers: list[int], abstained: bool) -> bool:
    """References are numbered 1..n in order of first citation (summary first, then points); every citation
    resolves; every statement of an answer cites something; a non-abstaining answer cites every reference."""
    if numbers != list(range(1, len(numbers) + 1)):
        return False
    if abstained:
        return not claims  # an abstention states nothing and may list the nearest sources uncited
    first_seen: list[int] = []
    for _, cited in claims:
        if not cited or any(n not in numbers for n in cited):
            return False
        first_seen += [n for n in cited if n not in first_seen]
    return first_seen == numbers


def claims_of(answer: AnswerOut) -> list[tuple[str, list[int]]]:
    """Every statement of an answer with the numbers it cites: the summary (unless it abstained), then the points."""
    claims = [(answer.summary, list(answer.summary_citations))] if not answer.abstained and answer.summary else []
    return claims + [(p.text, list(p.citations)) for p in answer.points]


def check_answer(answer: AnswerOut, relevant: set[str]) -> AnswerCheck:
    """Check one answer (the /ask response model) against the relevant doc ids."""
    passages = {r.number: [p.text for p in r.passages] for r in answer.references}
    doc_of = {r.number: r.doc_id for r in answer.references}
    claims = claims_of(answer)
    cited = [n for _, numbers in claims for n in numbers]
    return AnswerCheck(
        claims=len(claims),
        faithful=sum(_found_in_cited(text, numbers, passages) for text, numbers in claims),
        citations_valid=_citations_valid(claims, [r.number for r in answer.references], answer.abstained),
        abstained=answer.abstained,
        hit=not answer.abstained and any(doc_of.get(n) in relevant for n in set(cited)),
        leaning=sum(opens_leaning(text) for text, _ in claims),
    )


def summarise(checks: list[AnswerCheck]) -> dict[str, float | int]:
    """Aggregate answer checks into the "answers" block of the eval JSON."""
    n = len(checks)
    answered = [c for c in checks if not c.abstained]
    claims = sum(c.claims for c in checks)
    return {
        "queries": n,
        "faithfulness": sum(c.faithful for c in checks) / claims if claims else 1.0,
        "citation_validity": sum(c.citations_valid for c in checks) / n if n else 0.0,
        "abstention_rate": (n - len(answered)) / n if n else 0.0,
        "hit_rate": sum(c.hit for c in checks) / n if n else 0.0,
        "hit_rate_answered": sum(c.hit for c in answered) / len(answered) if answered else 0.0,
        "leaning_openings": sum(c.leaning for c in checks),
    }
