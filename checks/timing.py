"""Honest latency: timed requests are taken by a process of their own (`checks.timing_worker`), not in
golive's event loop, which other checks keep busy.

A check asks `ctx.timer` for a timing (HTTP requests, Redis PINGs, a SQL query); the worker measures with its
own clients and sends the numbers back. While golive's loop is blocked the worker's clock keeps running
only for the target: an answer that arrived is read at once, there. The runner starts one worker per run,
on first use, and stops it at the end; without a worker (a kind called outside a run, or a worker that
cannot start) a check times in the loop as before and says so in its evidence (`latency_timed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
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


class Timer:
    """One timing worker for a run; `on_dispatch` (tests) runs in the loop right after each request is sent."""

    def __init__(self, on_dispatch: Callable[[], Any] | None = None, *, sql: bool = False) -> None:
        """`sql`: the run has SQL timings to take (the worker then imports psycopg before measuring anything)."""
        self.on_dispatch = on_dispatch
        self.sql_ready = sql
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._lock = asyncio.Lock()
        self.failed = ""

    async def _start(self) -> asyncio.subprocess.Process | None:
        async with self._lock:
            if self._proc is None and not self.failed:
                try:
                    self._proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "checks.timing_worker", *(["--sql"] if self.sql_ready else []),
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                        # golive's own code, but it talks to the target: none of golive's secrets either
                        env=child_env({"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}))
                except OSError as exc:
                    self.failed = f"the timing process could not start: {exc.strerror or exc}"
                    return None
                self._reader = asyncio.create_task(self._read(self._proc))
            return self._proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            with contextlib.suppress(ValueError):
                reply = json.loads(line)
                future = self._pending.pop(int(reply.get("id", -1)), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        self.failed = self.failed or "the timing process ended"
        for future in self._pending.values():
            if not future.done():
                future.set_result({"error": self.failed})
        self._pending.clear()

    async def _ask(self, op: str, timeout: float, **request: Any) -> Timing:
        proc = await self._start()
        if proc is None or proc.stdin is None:
            return Timing(error=self.failed)
        self._next += 1
        ident = self._next
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            proc.stdin.write((json.dumps({"id": ident, "op": op, "timeout": timeout, **request}) + "\n").encode())
            await proc.stdin.drain()
        except (OSError, RuntimeError) as exc:
            self._pending.pop(ident, None)
            return Timing(error=f"the timing process is gone: {exc}")
        if self.on_dispatch is not None:
            maybe = self.on_dispatch()
            if asyncio.iscoroutine(maybe):
                await maybe
        try:
            reply = await future
        finally:
            self._pending.pop(ident, None)
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
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)
