"""The timing process (checks.timing) lives as long as the golive process, not one run: runs in different
event loops share it, a dead one is replaced on the next timing, a run that needs SQL timings gets one that
imported psycopg first, and it ends when golive does."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checks import timing
from checks.timing import Timer, timing_worker, worker_pid
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def ping() -> timing.Timing:
    """One Redis PING timed through the worker, in an event loop of its own (as `asyncio.run` per CLI run)."""
    return asyncio.run(Timer().redis_ping(REDIS_URL, count=1))


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_runs_in_different_event_loops_share_one_timing_process() -> None:
    first = ping()
    pid = worker_pid()
    second = ping()
    assert not first.error and not second.error and first.samples_ms and second.samples_ms
    assert pid is not None and worker_pid() == pid


def test_a_dead_timing_process_is_replaced_on_the_next_timing() -> None:
    assert ping().samples_ms
    worker = timing_worker()
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(10)
    again = ping()
    assert not again.error and again.samples_ms, again.error
    assert worker_pid() not in (None, worker.proc.pid)


def test_a_run_with_sql_timings_gets_a_process_that_imported_psycopg_first() -> None:
    async def both() -> None:
        plain = Timer()
        await plain.redis_ping(REDIS_URL, count=1)
        await Timer(sql=True).redis_ping(REDIS_URL, count=1)

    timing_worker()  # whatever a previous test left: maybe a plain one
    asyncio.run(both())
    pid = worker_pid()
    assert pid is not None and "--sql" in cmdline(pid)
    asyncio.run(Timer().redis_ping(REDIS_URL, count=1))
    assert worker_pid() == pid  # a plain timing keeps the SQL-ready process


def test_the_timing_process_ends_with_golive() -> None:
    script = ("import asyncio, sys; from checks.timing import Timer, worker_pid; "
              f"asyncio.run(Timer().redis_ping({REDIS_URL!r}, count=1)); print(worker_pid(), flush=True)")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 30  # a hang guard: the worker is normally gone before golive has exited
    while Path(f"/proc/{pid}").exists() and "checks.timing_worker" in " ".join(_cmdline_or_empty(pid)):
        assert time.monotonic() < deadline, "the timing process outlived golive"
        time.sleep(0.05)


def _cmdline_or_empty(pid: int) -> list[str]:
    try:
        return cmdline(pid)
    except OSError:
        return []


def test_a_timing_the_target_never_finishes_is_abandoned_and_a_stuck_process_replaced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A target that trickles its answer a byte at a time never trips the per-read timeout; golive stops
    waiting after the timing's own budget, and once a few are stuck the process is replaced (before this, one
    such target left measuring threads that held every later run's timings back for good)."""
    monkeypatch.setattr(timing, "GRACE_S", 0.2)
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            while not stop.wait(0.05):
                conn.sendall(b"x")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        timing_worker()
        before = worker_pid()

        async def stuck() -> list[timing.Timing]:
            timer = Timer()
            return await asyncio.gather(*(timer.http("GET", f"http://127.0.0.1:{port}/", {}, count=1, timeout=0.3)
                                          for _ in range(timing.ABANDONED_LIMIT)))

        results = asyncio.run(stuck())
        assert all("did not answer within" in r.error for r in results), [r.error for r in results]
        assert ping().samples_ms  # the next timing gets a process of its own
        assert worker_pid() not in (None, before)
    finally:
        stop.set()
        listener.close()
