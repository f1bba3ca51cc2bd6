"""Leader election among bot replicas: a lease in Redis (SET NX PX to take it, compare-and-set PEXPIRE
to renew it, compare-and-delete to hand it back), built on the shared `bot.coordination.locks` primitives.

The leader renews every third of the lease; a follower retries often enough that, once a dead
leader's lease expires, it takes over within a small fraction of the lease. A leader that cannot
renew steps down before its lease can expire, so two replicas never watch at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from bot.coordination.locks import Locks, LockUnavailable

log = logging.getLogger("golive.lease")
Hook = Callable[[], Awaitable[None]]


def owner_id() -> str:
    """Who holds the lease, readable in Redis: host, pid and a nonce (pids repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaderLease:
    def __init__(self, locks: Locks, name: str, *, lease_seconds: float = 15.0, owner: str | None = None) -> None:
        self.locks = locks
        self.name = f"leader:{name}"
        self.lease_seconds = lease_seconds
        self.owner = owner or owner_id()
        self.leader = False
        self._renewed_at = 0.0

    @property
    def renew_every(self) -> float:
        return self.lease_seconds / 3

    @property
    def retry_every(self) -> float:
        return max(0.05, min(1.0, self.lease_seconds / 20))

    async def try_acquire(self) -> bool:
        if await self.locks.acquire(self.name, self.owner, self.lease_seconds):
            self._renewed_at = time.monotonic()
            return True
        return False

    async def renew(self) -> bool:
        """True while we still hold it. Unreachable Redis is tolerated only while the lease surely holds."""
        try:
            if await self.locks.refresh(self.name, self.owner, self.lease_seconds):
                self._renewed_at = time.monotonic()
                return True
            return False
        except LockUnavailable as exc:
            held_for = time.monotonic() - self._renewed_at
            log.warning("cannot renew the leader lease (%.1fs since the last renewal): %s", held_for, exc)
            return held_for < self.lease_seconds * 0.8

    async def release(self) -> None:
        with contextlib.suppress(LockUnavailable):
            await self.locks.release(self.name, self.owner)

    async def holder(self) -> str | None:
        return await self.locks.holder(self.name)

    async def run(self, on_elected: Hook, on_demoted: Hook, stop: asyncio.Event) -> None:
        """Hold the lease while `stop` is unset, calling the hooks on every change of leadership."""
        try:
            while not stop.is_set():
                if self.leader:
                    if not await self.renew():
                        self.leader = False
                        log.warning("lost the leader lease %s", self.name)
                        await on_demoted()
                else:
                    try:
                        won = await self.try_acquire()
                    except LockUnavailable as exc:
                        log.warning("cannot reach the lease store: %s", exc)
                        won = False
                    if won:
                        self.leader = True
                        try:
                            await on_elected()
                        except Exception:
                            log.exception("starting as leader failed: handing the lease back")
                            self.leader = False
                            with contextlib.suppress(Exception):
                                await on_demoted()
                            await self.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.renew_every if self.leader else self.retry_every)
        finally:
            if self.leader:
                self.leader = False
                await on_demoted()
                await self.release()
