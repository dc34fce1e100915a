"""Check that every section of every ingested file is findable: covered end to end by indexed chunks.

    python scripts/check_findable.py ../shared/data/medquad --index .medcite/medquad

For MedQuAD each section is one answered question-answer pair, so this proves that every answered
pair is in the index (as chunks whose text is the answer's text). Prints the counts and any gaps.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index.store import Index
from ingest.readers import discover, read_file


def uncovered(text: str, start: int, end: int, chunks) -> int:
    """Non-space characters of text[start:end] that no chunk covers (spaces may fall between chunks)."""
    covered = bytearray(end - start)
    for c in chunks:
        lo, hi = max(c.start, start), min(c.end, end)
        if hi > lo:
            covered[lo - start:hi - start] = b"\x01" * (hi - lo)
    return sum(1 for i, ok in enumerate(covered) if not ok and not text[start + i].isspace())


def main(argv=None) -> int:
    """Read every file again, compare its sections with the index's chunks."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--index", type=Path, required=True)
    args = p.parse_args(argv)
    index = Index.open(args.index, verify=False)
    sections = missing = 0
    for path in discover(args.paths):
        for doc in read_file(path):
            chunks = index.chunks_of(doc.doc_id)
            for s in doc.sections:
                if not doc.text[s.start:s.end].strip():
                    continue
                sections += 1
                inside = [c for c in chunks if c.start < s.end and c.end > s.start]
                if not inside or uncovered(doc.text, s.start, s.end, inside):
                    missing += 1
                    print(f"NOT FOUND {doc.doc_id}: {s.heading[:80]}", file=sys.stderr)
    print(f"{sections} sections with text; {sections - missing} covered by indexed chunks; {missing} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
