"""answer() in process: the first pass over new questions (cold caches) against a second pass (warm).

    python -m eval.bench_answer --index /tmp/mq-p [--n 500]

Also reports the garbage collector's full collections during both passes (each one pauses every
request in flight in a server) and how many objects it tracks afterwards. The loaded libraries, model
and index are frozen first, as service/app.py does.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

from eval.loadtest import DEV_QUERIES, load_questions, percentile


def timed_pass(questions: list[str], index, embedder) -> list[float]:
    """Milliseconds of answer() for each question."""
    from service.answer import answer

    out = []
    for q in questions:
        t0 = time.perf_counter()
        answer(q, index, embedder)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--questions", type=Path, default=DEV_QUERIES if DEV_QUERIES.exists() else None)
    p.add_argument("--n", type=int, default=500)
    args = p.parse_args(argv)

    from index.embedder import load_embedder
    from index.store import Index
    from service.answer import answer
    from service.settings import Settings

    embedder = load_embedder(**Settings().embedder_options(), threads=1)
    index = Index.open(args.index, embedder=embedder)
    answer("warm up the model", index, embedder)
    gc.collect()
    gc.freeze()
    full: list[float] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started.append(time.perf_counter())
            else:
                full.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(on_gc)
    questions = load_questions(args.questions, args.n)
    for name, ms in (("cold", timed_pass(questions, index, embedder)), ("warm", timed_pass(questions, index, embedder))):
        print(f"{name}: {len(ms)} answers, p50 {statistics.median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
              f"p99 {percentile(ms, 99):.1f} ms")
    gc.callbacks.remove(on_gc)
    print(f"full garbage collections: {len(full)}, longest {max(full, default=0):.1f} ms; "
          f"objects tracked afterwards: {len(gc.get_objects()):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
