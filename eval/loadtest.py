"""Load test: start `medcite serve` on 127.0.0.1 and drive POST /ask at a fixed concurrency.

    python -m eval.loadtest --index .medcite/medquad --concurrency 8 --duration 60

Reports requests/s, p50/p95/p99 latency, status counts, connection errors, /healthz latency under
load, the server's RSS and its time to ready. Exits 1 if any 5xx or connection error occurred.
Only ever talks to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEV_QUERIES = ROOT.parent / "shared" / "data" / "medquad-dev" / "queries.jsonl"
BUILTIN_QUESTIONS = [
    "What is the difference between pain in the buttocks and low back pain?",
    "What causes buttock pain?",
    "What are the symptoms of sacroiliac joint pain?",
    "How is low back pain treated?",
    "What are the treatments for glaucoma?",
    "Who is at risk for high blood pressure?",
    "What are the symptoms of diabetes?",
    "How to prevent osteoporosis?",
    "What is the outlook for breast cancer?",
    "What causes asthma?",
]
TARGETS = {"rps": 50.0, "p99_ms": 250.0, "rss_mb": 1024.0, "ready_s": 5.0}


def load_questions(path: Path | None, limit: int = 1000) -> list[str]:
    """Questions from a BEIR queries.jsonl (or a text file, one per line), else the built-in list."""
    path = path or (DEV_QUERIES if DEV_QUERIES.exists() else None)
    if path is None:
        return BUILTIN_QUESTIONS
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if path.suffix == ".jsonl":
        lines = [json.loads(ln)["text"] for ln in lines]
    return [q.strip()[:2000] for q in lines[:limit] if q.strip()] or BUILTIN_QUESTIONS


def builtin_warning(questions: list[str]) -> str | None:
    """A warning when the run falls back to the built-in questions: ten questions are all cached after one
    pass, so their throughput is not a cold question's (session 13 read 41.6 against 32.6 requests/s for the
    same code from a checkout that found no dev queries beside it)."""
    if questions is not BUILTIN_QUESTIONS:
        return None
    return (f"warning: no --questions and no {DEV_QUERIES.parent.name}/{DEV_QUERIES.name} beside the "
            f"checkout: asking the {len(BUILTIN_QUESTIONS)} built-in questions over and over measures warm answers")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory of a process from /proc (VmHWM gives the peak)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values, 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def start_server(index: Path, port: int, env: dict, log) -> subprocess.Popen:
    """`medcite serve` on 127.0.0.1:port; its log goes to a file (a pipe nobody reads would fill and block it)."""
    cmd = [sys.executable, "-m", "service", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def log_tail(log, n: int = 2000) -> str:
    """The end of the server's log."""
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-n:]


async def wait_ready(base: str, proc: subprocess.Popen, timeout: float, log) -> float:
    """Seconds from now until /readyz answers 200; raises if the server dies or never gets ready."""
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_tail(log)}")
            try:
                r = await client.get("/readyz")
                if r.status_code == 200:
                    return time.monotonic() - start
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError(f"not ready after {timeout:.0f} s:\n{log_tail(log)}")


async def drive(base: str, questions: list[str], concurrency: int, duration: float, max_requests: int,
                endpoint: str, top_k: int | None) -> dict:
    """Keep `concurrency` requests in flight for `duration` seconds (or max_requests); measure each."""
    latencies: list[float] = []
    finished: list[float] = []  # seconds since start at which each latency was measured
    statuses: Counter = Counter()
    errors: Counter = Counter()
    health_ms: list[float] = []
    sent = 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            q = questions[sent % len(questions)]
            sent += 1
            payload = ({"question": q, **({"top_k": top_k} if top_k else {})} if endpoint == "ask"
                       else {"query": q, "top_k": 10})
            t0 = time.perf_counter()
            try:
                r = await client.post("/" + endpoint, json=payload)
                statuses[r.status_code] += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            finished.append(time.monotonic() - start)

    async def health_probe() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while time.monotonic() < deadline and sent < max_requests:
                t0 = time.perf_counter()
                try:
                    await client.get("/healthz")
                    health_ms.append((time.perf_counter() - t0) * 1000)
                except httpx.HTTPError as exc:
                    errors["healthz " + type(exc).__name__] += 1
                await asyncio.sleep(0.25)

    start = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(health_probe(), *(worker(client) for _ in range(concurrency)))
    elapsed = time.monotonic() - start
    return {
        "requests": sum(statuses.values()), "seconds": round(elapsed, 2),
        "requests_per_s": round(sum(statuses.values()) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {f"p{q}": round(percentile(latencies, q), 1) for q in (50, 95, 99)}
        | {"mean": round(statistics.fmean(latencies), 1) if latencies else 0.0, "max": round(max(latencies, default=0), 1)},
        "status": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "healthz_ms": {"p50": round(percentile(health_ms, 50), 1), "max": round(max(health_ms, default=0), 1),
                       "probes": len(health_ms)},
        "timeline": timeline(finished, latencies),
    }


def timeline(finished: list[float], latencies: list[float], step: float = 10.0) -> list[dict]:
    """Latency per `step` seconds of the run: the first pass over the questions meets cold caches."""
    buckets: dict[int, list[float]] = {}
    for t, ms in zip(finished, latencies):
        buckets.setdefault(int(t // step), []).append(ms)
    return [{"from_s": b * step, "requests": len(v), "p50": round(percentile(v, 50), 1),
             "p99": round(percentile(v, 99), 1), "max": round(max(v), 1)} for b, v in sorted(buckets.items())]


def verdict(result: dict) -> list[str]:
    """Which targets were missed (empty: all met)."""
    missed = []
    if any(int(s) >= 500 for s in result["status"]) or result["errors"]:
        missed.append("5xx responses or connection errors")
    if result["requests_per_s"] < TARGETS["rps"]:
        missed.append(f"requests/s {result['requests_per_s']} < {TARGETS['rps']}")
    if result["latency_ms"]["p99"] >= TARGETS["p99_ms"]:
        missed.append(f"p99 {result['latency_ms']['p99']} ms >= {TARGETS['p99_ms']}")
    if (result.get("rss_mb_peak") or 0) >= TARGETS["rss_mb"]:
        missed.append(f"peak RSS {result['rss_mb_peak']} MB >= {TARGETS['rss_mb']}")
    if result["ready_s"] >= TARGETS["ready_s"]:
        missed.append(f"ready after {result['ready_s']} s >= {TARGETS['ready_s']}")
    return missed


# The line service/deps.py logs when its background warm-up of sentence profiles ends (either way).
WARM_UP_DONE = ("sentence profiles of", "sentence profiles not warmed")


async def wait_warmed(log, timeout: float) -> float:
    """Seconds from ready until the server logs the end of its warm-up (or timeout, whichever first)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(line in log_tail(log, 10**9) for line in WARM_UP_DONE):
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def run(args) -> dict:
    """Start the server, wait for ready, drive it, stop it gracefully; return the measurements."""
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.model:
        env["MEDCITE_MODEL"] = args.model
    env.pop("MEDCITE_API_KEY", None)
    questions = load_questions(args.questions, args.question_limit)
    warning = builtin_warning(questions)
    if warning:
        print(warning, file=sys.stderr)
    log = tempfile.TemporaryFile()
    proc = start_server(args.index, port, env, log)
    try:
        ready_s = await wait_ready(base, proc, args.ready_timeout, log)
        warmed_s = await wait_warmed(log, args.warm_up_timeout) if args.after_warm_up else None
        rss_ready = rss_mb(proc.pid)
        result = await drive(base, questions, args.concurrency, args.duration, args.max_requests,
                             args.endpoint, args.top_k)
        result.update(endpoint="/" + args.endpoint, concurrency=args.concurrency, questions=len(questions),
                      ready_s=round(ready_s, 2), warm_up_s=warmed_s and round(warmed_s, 1),
                      rss_mb_ready=rss_ready and round(rss_ready),
                      rss_mb_end=round(rss_mb(proc.pid) or 0), rss_mb_peak=round(rss_mb(proc.pid, "VmHWM") or 0))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    result["server_exit"] = code  # -15: uvicorn re-raises the SIGTERM after draining (a clean stop)
    result["server_log_lines"] = log_tail(log, 10**9).count("\n")
    log.close()
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from service.settings import Settings

    p.add_argument("--index", type=Path, default=Settings().index)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    p.add_argument("--questions", type=Path, default=None, help="queries.jsonl or one question per line")
    p.add_argument("--question-limit", type=int, default=1000,
                   help="use the first N questions, asked in turn (more than a run sends: every one is new)")
    p.add_argument("--endpoint", choices=("ask", "search"), default="ask")
    p.add_argument("--top-k", type=int, default=None, help="documents per answer (default: the server's, as a client "
                   "that sends only the question gets)")
    p.add_argument("--model", default=None, help="MEDCITE_MODEL for the server (default: inherited)")
    p.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--after-warm-up", action="store_true",
                   help="start the load once the server has warmed its sentence profiles (steady state); "
                        "without it the load starts at ready and overlaps the warm-up")
    p.add_argument("--warm-up-timeout", type=float, default=300.0)
    p.add_argument("--output", type=Path, default=None, help="also write the measurements as JSON")
    args = p.parse_args(argv)
    if not 1 <= args.concurrency <= 256:
        p.error("--concurrency must be between 1 and 256")
    try:
        result = asyncio.run(run(args))
    except RuntimeError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 1
    missed = verdict(result)
    result["targets_missed"] = missed
    print(json.dumps(result, indent=2))
    lat = result["latency_ms"]
    print(f"{result['endpoint']}: {result['requests_per_s']} req/s at concurrency {result['concurrency']}; "
          f"p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms; status {result['status']}; "
          f"errors {result['errors'] or 0}; ready in {result['ready_s']} s; RSS peak {result['rss_mb_peak']} MB; "
          f"{'all targets met' if not missed else 'MISSED: ' + '; '.join(missed)}", file=sys.stderr)
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    bad = any(int(s) >= 500 for s in result["status"]) or result["errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
