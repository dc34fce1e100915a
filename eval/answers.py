"""Answer-level checks on /ask answers (as their contract JSON): faithfulness, citations, abstention, hits."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def normalise(text: str) -> str:
    """Collapse whitespace so that "verbatim" ignores line breaks and double spaces."""
    return " ".join(text.split())


def summary_parts(summary: str) -> tuple[str, list[int]]:
    """The summary without its citation markers, and the numbers those markers cite."""
    numbers = [int(n) for m in _MARKER.finditer(summary) for n in m.group(1).split(",")]
    return _MARKER.sub("", summary).strip(), numbers


@dataclass(frozen=True)
class AnswerCheck:
    """What one answer got right: claims found verbatim, citation validity, abstention, relevant hit."""

    claims: int  # points, plus the summary when the answer did not abstain
    faithful: int  # claims found verbatim in a passage of a reference they cite
    citations_valid: bool
    abstained: bool
    hit: bool  # a cited reference is a relevant document


def _found_in_cited(text: str, numbers: Iterable[int], passages: Mapping[int, list[str]]) -> bool:
    """True when the text occurs verbatim (whitespace aside) in a passage of one of the cited references."""
    needle = normalise(text)
    return bool(needle) and any(needle in normalise(p) for n in numbers for p in passages.get(n, ()))


def _citations_valid(cited: list[int], numbers: list[int], abstained: bool) -> bool:
    """References are numbered 1..n; every citation resolves; a non-abstaining answer cites every reference."""
    if numbers != list(range(1, len(numbers) + 1)):
        return False
    if any(n not in numbers for n in cited):
        return False
    # an abstention may list the nearest sources without citing them
    return abstained or set(cited) == set(numbers)


def check_answer(answer: Mapping, relevant: set[str]) -> AnswerCheck:
    """Check one answer dict (service.answer.answer_to_dict shape) against the relevant doc ids."""
    refs = answer.get("references") or []
    passages = {r["number"]: [p.get("text", "") for p in r.get("passages") or []] for r in refs}
    doc_of = {r["number"]: r.get("doc_id") for r in refs}
    abstained = bool(answer.get("abstained"))
    claims = [(p.get("text", ""), list(p.get("citations") or [])) for p in answer.get("points") or []]
    if not abstained and answer.get("summary"):
        claims.append(summary_parts(answer["summary"]))
    cited = [n for _, numbers in claims for n in numbers]
    return AnswerCheck(
        claims=len(claims),
        faithful=sum(_found_in_cited(text, numbers, passages) for text, numbers in claims),
        citations_valid=_citations_valid(cited, [r["number"] for r in refs], abstained),
        abstained=abstained,
        hit=not abstained and any(doc_of.get(n) in relevant for n in set(cited)),
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
    }
