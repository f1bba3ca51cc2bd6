"""No silent loss: every result of a run is stored, or the run says it is incomplete.

- `ResultWriter` writes each result as it lands; a write that fails is retried with backoff, then the
  result is held in memory and written again when the store answers (until `hold_seconds` after the
  last check finished). Results the store never took make the run `incomplete`: `RunIncomplete`.
- `heartbeat` keeps the run's owner heartbeat fresh while it runs, so a sweep on any replica (or a
  later CLI start) marks it interrupted only once its process is gone (`Store.reap_expired_runs`).

Intervals come from the environment (seconds) so a test or an operator can shorten them:
GOLIVE_STORE_RETRIES, GOLIVE_STORE_BACKOFF, GOLIVE_STORE_HOLD_SECONDS, GOLIVE_HEARTBEAT_SECONDS,
GOLIVE_HEARTBEAT_TTL_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.store import RunRecord, Store, StoreUnavailable
from checks.masking import mask
from checks.result import CheckResult

log = logging.getLogger("golive.runs")
T = TypeVar("T")

OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
"""This process, as a run's owner."""


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class Durability:
    retries: int = 3              # immediate attempts per result before it is held
    backoff: float = 0.2          # first pause between attempts, doubled each time (capped at 2 s)
    hold_seconds: float = 20.0    # after the last check, how long held results wait for the store
    heartbeat: float = 5.0        # how often a running run's owner says it is alive
    heartbeat_ttl: float = 30.0   # a run whose heartbeat is older than this is reaped

    @classmethod
    def from_env(cls) -> Durability:
        return cls(retries=int(_env("GOLIVE_STORE_RETRIES", cls.retries)),
                   backoff=_env("GOLIVE_STORE_BACKOFF", cls.backoff),
                   hold_seconds=_env("GOLIVE_STORE_HOLD_SECONDS", cls.hold_seconds),
                   heartbeat=_env("GOLIVE_HEARTBEAT_SECONDS", cls.heartbeat),
                   heartbeat_ttl=_env("GOLIVE_HEARTBEAT_TTL_SECONDS", cls.heartbeat_ttl))


class RunIncomplete(StoreUnavailable):
    """Some results of the run could not be stored: the run decides nothing (exit 3, never GO)."""

    def __init__(self, run_id: str, missing: list[str], cause: str) -> None:
        self.run_id = run_id
        self.missing = missing
        what = (f"{len(missing)} result(s) could not be recorded ({', '.join(missing)})" if missing
                else "its verdict could not be recorded")
        super().__init__(f"{cause.rstrip('.')}. Run {run_id} is incomplete: {what}, so it decides nothing (not GO). "
                         "Run it again once the store is back.")


@dataclass
class ResultWriter:
    store: Store
    run_id: str
    policy: Durability = field(default_factory=Durability)
    held: dict[str, CheckResult] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    last_error: str = ""

    async def _try(self, result: CheckResult, attempts: int) -> bool:
        pause = self.policy.backoff
        for attempt in range(max(1, attempts)):
            try:
                await asyncio.to_thread(self.store.add_result, self.run_id, result)
                return True
            except StoreUnavailable as exc:
                self.last_error = str(exc)
            if attempt + 1 < attempts:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
        return False

    async def write(self, result: CheckResult) -> bool:
        """Store one result (retrying); held in memory when the store does not take it. True when stored."""
        if self.held and not await self.flush_once():  # still down: queue behind the held ones, no retries
            self.held[result.check_id] = result
            return False
        if await self._try(result, self.policy.retries):
            self.stored.add(result.check_id)
            self.held.pop(result.check_id, None)
            return True
        log.warning("result %s of run %s held in memory: %s", result.check_id, self.run_id, mask(self.last_error))
        self.held[result.check_id] = result
        return False

    async def flush_once(self, *, every: bool = False) -> bool:
        """One pass over the held results, in order. It stops at the first refusal (the store is still
        down: no point waiting out a timeout per result) unless `every`, the last pass, which tries each
        one, so a single result the store refuses does not keep the others out."""
        for check_id, result in list(self.held.items()):
            if not await self._try(result, 1):
                if every:
                    continue
                return False
            self.held.pop(check_id, None)
            self.stored.add(check_id)
        return not self.held

    async def flush(self, seconds: float) -> bool:
        """Write the held results, retrying with backoff for up to `seconds`; True when none is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        pause = self.policy.backoff
        held = len(self.held)
        while self.held:
            if await self.flush_once():
                log.info("run %s: %d held result(s) written once the store answered", self.run_id, held)
                break
            if loop.time() >= deadline:
                return await self.flush_once(every=True)
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            pause = min(pause * 2, 2.0)
        return True


async def heartbeat(store: Store, run_id: str, interval: float) -> None:
    """Until cancelled: tell the store this run's owner is alive. A failed beat is only logged: the store
    being down is handled by the result writer, and a missed beat only matters if it lasts the TTL."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(store.heartbeat, [run_id])
        except StoreUnavailable as exc:
            log.warning("heartbeat of run %s not recorded: %s", run_id, mask(str(exc)))


async def reap(store: Store, *, checklist: str | None = None, ttl: float | None = None) -> list[RunRecord]:
    """Mark interrupted the runs whose owner stopped beating (any transport, CLI included)."""
    ttl = Durability.from_env().heartbeat_ttl if ttl is None else ttl
    return await asyncio.to_thread(store.reap_expired_runs, ttl, checklist=checklist)


async def patiently(call: Callable[[], T], policy: Durability) -> T:
    """A store call at the end of a run (re-read, finish): retried with backoff for up to hold_seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.hold_seconds
    pause = policy.backoff
    while True:
        try:
            return await asyncio.to_thread(call)
        except StoreUnavailable:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, 2.0)
