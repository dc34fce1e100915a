"""Write MedQuAD's questions, one per line, shuffled: a load-test question set in which nothing repeats.

    python scripts/medquad_questions.py ../shared/data/medquad /tmp/mq-questions.txt --n 6000
    python -m eval.loadtest --index DIR --questions /tmp/mq-questions.txt --question-limit 6000
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from lxml import etree


def questions(root: Path) -> list[str]:
    """Every distinct <Question> text of the MedQuAD XML files under root, in file order."""
    seen: dict[str, None] = {}
    for path in sorted(root.rglob("*.xml")):
        try:
            tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue
        for node in tree.iter("Question"):
            text = " ".join("".join(node.itertext()).split())
            if text:
                seen.setdefault(text, None)
    return list(seen)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("medquad", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    found = questions(args.medquad)
    random.Random(args.seed).shuffle(found)
    args.output.write_text("\n".join(found[:args.n]) + "\n", encoding="utf-8")
    print(f"{len(found)} distinct questions; wrote {min(args.n, len(found))} to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
