"""A document's own reference list: which sections hold it."""
from __future__ import annotations

import re

# The headings under which articles print their reference lists. The answer path has always treated every
# sentence under these as boilerplate (service/evidence.py), so ingest neither embeds nor stores them. The
# whole heading must be the phrase: "Sources of buttock pain" is not a reference list.
REFERENCE_HEADING = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+)?(?:references?|bibliography|works cited|literature cited|sources|further reading)"
    r"\s*:?\s*$", re.I)


def is_reference_heading(heading: str) -> bool:
    """True for a section heading that introduces a reference list ("References", "5. Bibliography")."""
    return bool(REFERENCE_HEADING.match(heading or ""))
