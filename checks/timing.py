"""Honest latency: timed requests are taken by a process of their own (`checks.timing_worker`), not in
golive's event loop, which other checks keep busy.

A check asks `ctx.timer` for a timing (HTTP requests, Redis PINGs, a SQL query); the worker measures with its
own clients and sends the numbers back. While golive's loop is blocked the worker's clock keeps running
only for the target: an answer that arrived is read at once, there. Without a worker (a kind called outside
a run, or a worker that cannot start) a check times in the loop as before and says so in its evidence
(`latency_timed`).

One worker serves every run in progress (`TimingWorker`): started on the first timing, restarted if it
dies, and stopped when the last run using it closes its Timer (or when golive exits). Concurrent runs share
it instead of starting a process each; a run that starts after all others ended gets a fresh one, so a
measurement stuck on a stalled target never holds a later run (a long-lived worker did, in the suite).
Replies are read on a thread and handed to the asking event loop, so runs in different loops share it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checks.process import child_env

OUTSIDE = "outside golive's event loop (timing process)"
IN_LOOP = "in golive's event loop"
CLOCKS = {"kernel": "the kernel's send and arrival stamps (SO_TIMESTAMPING): the timing process's own waits "
                    "for a CPU are not in it",
          "process": "the timing process's clock"}


@dataclass
class Timing:
    """Samples from the worker, or the reason there are none."""

    samples_ms: list[float] = field(default_factory=list)
    connect_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    timed_at: float = 0.0
    timed_until: float = 0.0
    clock: str = ""
    error: str = ""

    @property
    def median_ms(self) -> float:
        return round(statistics.median(self.samples_ms), 1) if self.samples_ms else 0.0

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"latency_timed": OUTSIDE, "timed_at": round(self.timed_at, 3)}
        if self.timed_until:
            out["timed_until"] = round(self.timed_until, 3)
        if self.clock in CLOCKS:
            out["latency_clock"] = CLOCKS[self.clock]
        if self.connect_ms:
            out["connect_ms"] = self.connect_ms[0]
        return out


class TimingWorker:
    """The timing process of this golive process, and the requests it has not answered yet."""

    def __init__(self, sql: bool) -> None:
        self.sql = sql
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "checks.timing_worker", *(["--sql"] if sql else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # golive's own code, but it talks to the target: none of golive's secrets either
            env=child_env({"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}))
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._next = 0
        self.ended = ""
        self.abandoned = 0
        self._reader = threading.Thread(target=self._read, name="golive-timing-reader", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return not self.ended and self.proc.poll() is None and self.owner == os.getpid()

    def ask(self, request: dict[str, Any]) -> tuple[int, asyncio.Future[dict[str, Any]]]:
        """Send one request; the future gets the reply (or `{"error": ...}` if the worker ends first)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        with self._lock:
            if self.ended:
                raise OSError(self.ended)
            self._next += 1
            ident = self._next
            self._pending[ident] = (loop, future)
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write((json.dumps({"id": ident, **request}) + "\n").encode())
                self.proc.stdin.flush()
            except (OSError, ValueError):
                self._pending.pop(ident, None)
                self.ended = "the timing process is gone"  # the next request starts a new one
                raise
        return ident, future

    def forget(self, ident: int) -> None:
        with self._lock:
            self._pending.pop(ident, None)

    def abandon(self, ident: int) -> None:
        """A request that outlived its own time budget (a target that stopped mid-answer): after a few, the
        process is replaced, so stuck measuring threads never hold back later runs' timings."""
        with self._lock:
            self._pending.pop(ident, None)
            self.abandoned += 1
            if self.abandoned >= ABANDONED_LIMIT:
                self.ended = self.ended or f"the timing process left {self.abandoned} requests unanswered"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                reply = json.loads(line)
                ident = int(reply.get("id", -1))
            except (ValueError, TypeError, AttributeError):
                continue
            with self._lock:
                waiting = self._pending.pop(ident, None)
            if waiting is not None:
                _settle(*waiting, reply)
        with self._lock:
            self.ended = self.ended or "the timing process ended"
            waiting_all, self._pending = list(self._pending.values()), {}
        for loop, future in waiting_all:
            _settle(loop, future, {"error": self.ended})

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            self.ended = self.ended or "the timing process was stopped"
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the worker ends when its stdin does
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout)


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[dict[str, Any]], reply: dict[str, Any]) -> None:
    def settle() -> None:
        if not future.done():
            future.set_result(reply)
    with contextlib.suppress(RuntimeError):  # the asking loop has closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(settle)


ABANDONED_LIMIT = 4
GRACE_S = 5.0
"""A timing is given its own timeout per sample, plus this, before golive stops waiting for it."""

_worker: TimingWorker | None = None
_worker_lock = threading.Lock()
_runs = 0
"""Runs (Timers) using the worker now: when the last one closes, the worker is stopped, so no state of a run
(a request it abandoned, a thread stuck on a stalled target) can reach a later run."""


def timing_worker(sql: bool = False) -> TimingWorker:
    """This process's timing worker: started on first use, again if it died (or this is a forked child).
    `sql`: the caller has SQL timings to take; a worker started without psycopg is replaced by one that
    imports it first (an import while another request is timed would stall that thread)."""
    global _worker
    with _worker_lock:
        worker = _worker
        if worker is None or not worker.alive or (sql and not worker.sql):
            old, worker = worker, TimingWorker(sql or (worker is not None and worker.alive and worker.sql))
            _worker = worker
            if old is not None and old.owner == os.getpid():
                # its requests in flight are answered first (each bounded by its own timeout)
                threading.Thread(target=old.stop, args=(30.0,), daemon=True).start()
        return worker


def worker_pid() -> int | None:
    """The pid of the live timing worker, if any (tests)."""
    worker = _worker
    return worker.proc.pid if worker is not None and worker.alive else None


@atexit.register
def _stop_worker() -> None:
    worker = _worker
    if worker is not None and worker.owner == os.getpid():
        worker.stop()


class Timer:
    """A run's access to the timing worker; `on_dispatch` (tests) runs in the loop right after each request
    is sent."""

    def __init__(self, on_dispatch: Callable[[], Any] | None = None, *, sql: bool = False) -> None:
        """`sql`: the run has SQL timings to take (the worker then imports psycopg before measuring anything)."""
        self.on_dispatch = on_dispatch
        self.sql_ready = sql
        self.failed = ""
        self._using = False

    async def _ask(self, op: str, timeout: float, **request: Any) -> Timing:
        if self.failed:
            return Timing(error=self.failed)
        if not self._using:
            global _runs
            with _worker_lock:
                _runs += 1
            self._using = True
        for attempt in (1, 2):  # a worker found dead on writing is replaced once
            try:
                worker = timing_worker(self.sql_ready)
            except OSError as exc:
                self.failed = f"the timing process could not start: {exc.strerror or exc}"
                return Timing(error=self.failed)
            try:
                ident, future = worker.ask({"op": op, "timeout": timeout, **request})
                break
            except (OSError, ValueError) as exc:
                if attempt == 2:
                    return Timing(error=f"the timing process is gone: {exc}")
        if self.on_dispatch is not None:
            maybe = self.on_dispatch()
            if asyncio.iscoroutine(maybe):
                await maybe
        budget = timeout * (int(request.get("count", 1)) + 2) + GRACE_S  # connect, samples, a margin
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), budget)
        except TimeoutError:
            worker.abandon(ident)
            return Timing(error=f"the timing process did not answer within {budget:g}s")
        finally:
            worker.forget(ident)
        return Timing(samples_ms=[round(float(s), 1) for s in reply.get("samples_ms") or []],
                      connect_ms=[float(c) for c in reply.get("connect_ms") or []],
                      statuses=[int(s) for s in reply.get("statuses") or []],
                      timed_at=float(reply.get("timed_at") or 0.0),
                      timed_until=float(reply.get("timed_until") or 0.0), clock=str(reply.get("clock") or ""),
                      error=str(reply.get("error") or ""))

    async def http(self, method: str, url: str, headers: dict[str, str], *, count: int, timeout: float,
                   verify: bool = True) -> Timing:
        return await self._ask("http", timeout, method=method, url=url, headers=headers, count=count, verify=verify)

    async def redis_ping(self, url: str, *, count: int = 3, timeout: float = 5.0) -> Timing:
        return await self._ask("redis", timeout, url=url, count=count)

    async def sql(self, conninfo: str, password: str | None, query: str, *, timeout: float = 5.0,
                  count: int = 1) -> Timing:
        return await self._ask("sql", timeout, conninfo=conninfo, password=password, query=query, count=count)

    async def close(self) -> None:
        """The last run using the worker stops it: concurrent runs share one process, and a run that
        starts after all others ended gets a fresh one (what a stuck measurement leaves behind goes with
        it)."""
        global _runs, _worker
        if not self._using:
            return
        self._using = False
        with _worker_lock:
            _runs -= 1
            worker = _worker if _runs == 0 else None
            if worker is not None:
                _worker = None
        if worker is not None and worker.owner == os.getpid():
            await asyncio.to_thread(worker.stop)
