"""Read and chunk every file under the given paths; print documents, chunks, failures by reason, seconds.

    .venv/bin/python scripts/bench_ingest_readers.py ../shared/data/medquad
    .venv/bin/python scripts/bench_ingest_readers.py ../shared/data/pdfs --per-file
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.chunking import chunk_document  # noqa: E402
from ingest.batch import read_many  # noqa: E402
from ingest.readers import ReadError, discover  # noqa: E402


def main() -> None:
    """Run the benchmark over the paths given on the command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--per-file", action="store_true", help="one line per file (pages or reason)")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    t0 = time.perf_counter()
    skipped: list[Path] = []
    files = discover(args.paths, skipped=skipped)
    docs = chunks = sections = empty_docs = 0
    failures: Counter[str] = Counter()
    record_errors = 0
    for path, result in read_many(files, timeout_s=args.timeout):
        if isinstance(result, ReadError):
            failures[result.reason.split(":")[0]] += 1
            print(f"FAILED {path}: {result.reason}")
            continue
        record_errors += len(result.errors)
        for loc, reason in result.errors:
            print(f"FAILED {loc}: {reason}")
        for doc in result:
            n = len(chunk_document(doc))
            docs += 1
            chunks += n
            sections += len(doc.sections)
            empty_docs += n == 0
            if args.per_file:
                pages = len({s.page for s in doc.sections})
                print(f"ok {path.name}: {pages} page(s)/section(s) of text, {len(doc.text)} chars, {n} chunks")
    secs = time.perf_counter() - t0
    print(f"files {len(files)} (skipped, unsupported: {len(skipped)}), documents {docs}, sections {sections}, "
          f"chunks {chunks}, documents without chunks {empty_docs}, failed files {sum(failures.values())}, "
          f"failed records {record_errors}, {secs:.1f} s")
    for reason, count in failures.most_common():
        print(f"  {count:6d}  {reason}")


if __name__ == "__main__":
    main()
