"""A killable worker process that reads untrusted files under a time and a memory limit.

One persistent process serves many files (spawning per file would cost more than parsing most of
them); it is killed and replaced only when a file makes it overrun its limits or crash.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path

from ingest.errors import ReadError
from ingest.readers import MAX_BYTES, MAX_PAGES, ReadResult, failure_reason, read_file

# spawn, not fork: the parent may hold torch/BLAS threads, and forking those can deadlock the child.
_CONTEXT = multiprocessing.get_context("spawn")
# Spawning a worker re-imports the readers (pypdf, lxml), slow on a loaded machine. Start-up is no file's
# fault, so it gets its own generous limit (set when the worker was written, not tuned).
_STARTUP_TIMEOUT_S = 60


def _address_space_bytes() -> int:
    """This process's current virtual memory size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space at what the interpreter already uses plus memory_mb."""
    try:
        limit = _address_space_bytes() + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass  # no /proc or a lower hard limit already: the wall-clock timeout still applies


def _limit_cpu(timeout_s: float) -> None:
    """Let the next file use at most timeout_s more seconds of CPU (SIGXCPU ends the process)."""
    used = time.process_time()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + timeout_s) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (OSError, ValueError):
        pass


def _serve(conn, memory_mb: int, timeout_s: float, options: dict, read_fn: Callable) -> None:
    """Child loop: receive a path, send back ("ok", ReadResult) or ("error", reason); None stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the run ends
    _limit_memory(memory_mb)
    conn.send(("ready", None))
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        _limit_cpu(timeout_s)
        try:
            reply = ("ok", read_fn(path, **options))
        except MemoryError:
            reply = ("error", f"memory limit exceeded ({memory_mb} MB)")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reason line
            reply = ("error", failure_reason(exc))
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("error", f"memory limit exceeded ({memory_mb} MB) sending the result"))


class IsolatedReader:
    """Reads files in a worker process; `read(path)` returns a ReadResult or raises ReadError."""

    def __init__(self, timeout_s: float = 30, memory_mb: int = 1024, max_bytes: int = MAX_BYTES,
                 max_pages: int = MAX_PAGES, read_fn: Callable = read_file):
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._options = {"max_bytes": max_bytes, "max_pages": max_pages}
        self._read_fn = read_fn  # a module-level function, so the spawned child can import it
        self._proc = None
        self._conn = None
        self.restarts = 0

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        """Start the worker process."""
        parent, child = _CONTEXT.Pipe()
        self._proc = _CONTEXT.Process(target=_serve, args=(child, self.memory_mb, self.timeout_s,
                                                           self._options, self._read_fn), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        # Start-up (spawn + imports) is not any file's fault, so it gets its own, generous limit.
        try:
            ready = parent.poll(_STARTUP_TIMEOUT_S) and parent.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._kill()
            raise ReadError("isolated reader worker failed to start")

    def read(self, path: str | Path) -> ReadResult:
        """The documents of one file, read by the worker under the limits."""
        if self._proc is None:
            self._start()
        try:
            self._conn.send(str(path))
        except (BrokenPipeError, OSError):
            self._kill()
            self._start()
            self._conn.send(str(path))
        # The wall clock, not CPU time, is the limit here: it also catches a worker stuck waiting.
        if not self._conn.poll(self.timeout_s):
            self._kill()
            raise ReadError(f"timed out after {self.timeout_s:g} s")
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(2)
            code = self._proc.exitcode
            self._kill()
            raise ReadError(self._death_reason(code)) from None
        if status == "ok":
            return payload
        if payload.startswith("memory limit exceeded"):
            self._kill()  # after a MemoryError the worker's heap may be fragmented: start afresh
        raise ReadError(payload)

    def _death_reason(self, code: int | None) -> str:
        """Why the worker died, as a reason line."""
        if code == -signal.SIGXCPU:
            return f"CPU time limit exceeded ({self.timeout_s:g} s)"
        if code == -signal.SIGKILL:
            return f"worker killed (memory limit {self.memory_mb} MB?)"
        if code is not None and code < 0:
            return f"parser crashed ({signal.Signals(-code).name})"
        return f"worker exited unexpectedly (code {code})"

    def _kill(self) -> None:
        """Kill the worker; the next read starts a fresh one."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
            self.restarts += 1
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the worker politely, or kill it."""
        if self._proc is None:
            return
        try:
            self._conn.send(None)
            self._proc.join(2)
        except (BrokenPipeError, OSError):
            pass
        self._kill()
        self.restarts -= 1  # a polite stop is not a restart
