"""Hostile clients against a live uvicorn on loopback (issue 13, item 1): slow bodies, slow and idle heads."""
from __future__ import annotations

import socket
import statistics
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn

from api_support import fake_app, wait_http_ready
from service.middleware import server_options
from service.settings import Settings
from test_browser import free_port

ATTACKERS = 40  # the "Done when": 40 slow-body connections
ATTACK_S = 15.0  # ... for 15 s
TRICKLE_S = 2.0  # one body byte every 2 s, as in the report
SLOW_HEAD = b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"


@contextmanager
def live_server(settings: Settings):
    """The fake-index app under uvicorn with `medcite serve`'s connection options; yields (base URL, port)."""
    port = free_port()
    config = uvicorn.Config(fake_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            **server_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_http_ready(base, interval=0.02)
    try:
        yield base, port
    finally:
        server.should_exit = True
        thread.join(15)


def slow_body_attacker(port: int, stop: threading.Event, connected: threading.Semaphore, timeouts: list) -> None:
    """Send /ask headers then trickle the body; when the server closes the connection, reconnect."""
    first = True
    while not stop.is_set():
        with socket.create_connection(("127.0.0.1", port), timeout=ATTACK_S + 10) as sock:
            sock.sendall(SLOW_HEAD + b"{")
            if first:
                connected.release()
                first = False
            try:
                while not stop.wait(TRICKLE_S):
                    sock.sendall(b" ")
            except OSError:  # the server closed the connection (408 then close)
                reply = b""
                try:
                    reply = sock.recv(4096)
                except OSError:
                    pass
                timeouts.append(reply.split(b"\r\n", 1)[0])


def test_slow_bodies_do_not_starve_ask_and_healthz_stays_fast():
    settings = Settings(index="/x", body_timeout_s=5)
    with live_server(settings) as (base, port):
        stop, connected, timeouts = threading.Event(), threading.Semaphore(0), []
        attackers = [threading.Thread(target=slow_body_attacker, args=(port, stop, connected, timeouts), daemon=True)
                     for _ in range(ATTACKERS)]
        for t in attackers:
            t.start()
        for _ in attackers:
            assert connected.acquire(timeout=10)
        statuses, healthz_ms = [], []
        with httpx.Client(base_url=base, timeout=10) as client:
            end = time.monotonic() + ATTACK_S
            while time.monotonic() < end:
                statuses.append(client.post("/ask", json={"question": "buttock pain"}).status_code)
                started = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                healthz_ms.append((time.perf_counter() - started) * 1000)
        stop.set()
        for t in attackers:
            t.join(TRICKLE_S + 5)
    ok = statuses.count(200) / len(statuses)
    healthz_ms.sort()
    print(f"\nslow-body attack: {ATTACKERS} connections for {ATTACK_S:.0f} s: {statuses.count(200)}/{len(statuses)} "
          f"/ask answered 200 ({ok:.1%}); /healthz median {statistics.median(healthz_ms):.1f} ms, "
          f"p99 {healthz_ms[int(len(healthz_ms) * 0.99)]:.1f} ms, max {healthz_ms[-1]:.1f} ms; "
          f"{len(timeouts)} slow connections closed by the server")
    assert ok >= 0.9
    assert healthz_ms[int(len(healthz_ms) * 0.99)] < 50
    # Every attacker was cut off by the 5 s body deadline at least once during the 15 s, with a 408 (a reset
    # connection can lose the reply before the attacker reads it, hence the empty one).
    assert len(timeouts) >= ATTACKERS
    assert b"HTTP/1.1 408 Request Timeout" in timeouts
    assert set(timeouts) <= {b"HTTP/1.1 408 Request Timeout", b""}


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> bool:
    """Whether the server closes sock within `seconds` (sending `trickle` every 0.2 s meanwhile)."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            pass
        except OSError:
            return True
        if trickle:
            try:
                sock.sendall(trickle)
            except OSError:
                return True
    return False


def test_idle_and_slow_header_connections_are_closed():
    settings = Settings(index="/x", header_timeout_s=1)
    with live_server(settings) as (base, port):
        with socket.create_connection(("127.0.0.1", port)) as idle:
            assert closed_within(idle, 5)
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert closed_within(slow, 5, trickle=b"X")
        # A well-behaved keep-alive client is not affected: two requests on one connection.
        with httpx.Client(base_url=base) as client:
            assert [client.get("/healthz").status_code for _ in range(2)] == [200, 200]
