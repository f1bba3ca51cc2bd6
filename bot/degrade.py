"""Running degraded instead of falling over, and saying so.

- `degradations`: the process-wide list of what is degraded and why. It is logged once as a warning
  when it starts and once when it ends; `/golive status` and /healthz/ready show it.
- `ResilientLocks`: Redis locks and dedup claims that fall back to in-process ones while Redis is
  unreachable, and go back to Redis (re-registering what was taken meanwhile) when it returns.
- `Readiness`: the answer of /healthz/ready — store, Redis and the Socket Mode connection, each
  probed with a short timeout, with the reason when one does not answer. (The Socket Mode connection
  is watched and reopened by `bot.slack.socket_mode.SocketModeConnection`, its one owner.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.locks import LOCK_TTL, LocalLocks, LockUnavailable, RedisLocks
from checks.masking import mask

log = logging.getLogger("golive.degrade")

REDIS_DEGRADED = ("Redis is unreachable: locks and dedup are in-process (this replica only) until it returns")


@dataclass
class Degradation:
    component: str
    message: str
    since: float = field(default_factory=time.time)


class Degradations:
    """What is running degraded right now. Transitions are logged once, not on every call."""

    def __init__(self) -> None:
        self._active: dict[str, Degradation] = {}

    def degrade(self, component: str, message: str, *, cause: str = "") -> bool:
        """Mark `component` degraded; True (and a warning logged) only on the transition."""
        if component in self._active:
            return False
        self._active[component] = Degradation(component, message)
        log.warning("%s", message, extra={"component": component, "event": "degraded", "cause": mask(cause)})
        return True

    def recover(self, component: str, message: str = "") -> bool:
        """Clear `component`; True (and an info line logged) only on the transition."""
        gone = self._active.pop(component, None)
        if gone is None:
            return False
        log.info("%s", message or f"{component} is back", extra={
            "component": component, "event": "recovered", "degraded_s": round(time.time() - gone.since, 1)})
        return True

    def active(self) -> dict[str, str]:
        return {name: d.message for name, d in self._active.items()}

    def messages(self) -> list[str]:
        """One line per degraded component, for status replies."""
        return [d.message for d in self._active.values()]

    def clear(self) -> None:
        self._active.clear()


degradations = Degradations()
"""The process-wide registry; status and readiness read it."""


class ResilientLocks:
    """The `Locks` protocol over Redis, falling back to in-process locks while Redis is down.

    Every Redis lock and claim is mirrored locally, so when Redis dies mid-hold this replica still
    refuses a second run of the same phase and a redelivered click still acts once. While degraded,
    calls never wait on Redis: a background task pings it every `retry_interval` s, whether or not
    anyone uses the locks (on a failed ping it drops the pooled connections, which a restarted Redis
    has closed), and once it answers, the locks taken meanwhile are written to Redis so other replicas
    see them, and this replica is back on shared locks. So shared locks return within
    `retry_interval` + one ping of Redis coming back.

    While degraded, each replica only knows its own locks and claims: two replicas can each start the
    same phase, and a click redelivered to the other replica acts twice. The warning, `/golive status`
    and /healthz/ready (check `locks`) say so until it is over.
    """

    def __init__(self, redis: RedisLocks, *, retry_interval: float = 2.0, probe_timeout: float = 2.0,
                 registry: Degradations | None = None) -> None:
        self.redis = redis
        self.local = LocalLocks()
        self.retry_interval = retry_interval
        self.probe_timeout = probe_timeout
        self.registry = registry or degradations
        self.degraded = False
        self._last_probe = 0.0
        self._probe_task: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._local_only: dict[str, tuple[str, float]] = {}  # locks taken while degraded: key -> (token, ttl)

    # -- state --------------------------------------------------------------------------------------
    def _degrade(self, exc: Exception) -> None:
        self.degraded = True
        self._last_probe = time.monotonic()
        self.registry.degrade("redis", REDIS_DEGRADED, cause=str(exc))
        self._start_recovery()

    def _start_recovery(self) -> None:
        if self._recovery is not None and not self._recovery.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next lock call starts it
            return
        self._recovery = loop.create_task(self._recover(), name="golive redis lock recovery")

    async def _recover(self) -> None:
        """Ping Redis every `retry_interval` until it answers and the local locks are shared again."""
        while self.degraded:
            await asyncio.sleep(self.retry_interval)
            self._last_probe = time.monotonic()
            await self._probe()

    @property
    def state(self) -> str:
        """The lock layer's own state, for readiness and status: shared (Redis) or in-process."""
        return "in-process (Redis unreachable)" if self.degraded else "shared (Redis)"

    def _use_redis(self) -> bool:
        if not self.degraded:
            return True
        self._start_recovery()  # in case it was degraded outside a running loop
        if (self._probe_task is None or self._probe_task.done()) and \
                time.monotonic() - self._last_probe >= self.retry_interval:
            self._last_probe = time.monotonic()
            self._probe_task = asyncio.get_running_loop().create_task(self._probe())
        return False

    async def _probe(self) -> None:
        if not self.degraded:
            return
        try:
            async with asyncio.timeout(self.probe_timeout):
                await self.redis.client.ping()
        except Exception:
            await self._drop_connections()
            return
        if self.degraded and await self._resync():
            self.degraded = False
            self.registry.recover("redis", "Redis is back: locks and dedup are shared again")

    async def _drop_connections(self) -> None:
        """A restarted Redis closed our pooled sockets: start the next ping on a fresh connection."""
        pool = getattr(self.redis.client, "connection_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.disconnect()

    async def _resync(self) -> bool:
        """Write the locks taken while degraded to Redis, so other replicas respect them; False when Redis
        failed meanwhile (still degraded)."""
        for key, (token, ttl) in list(self._local_only.items()):
            if self.local._held.get(key) != token:
                continue
            try:
                if not await self.redis.acquire(key, token, ttl):
                    log.warning("lock %s was taken elsewhere while Redis was down; keeping ours locally", key,
                                extra={"lock": key})
            except LockUnavailable:
                return False
        self._local_only.clear()
        return True

    async def check(self) -> None:
        """Probe Redis now (readiness uses it); raises LockUnavailable when it does not answer."""
        try:
            async with asyncio.timeout(self.probe_timeout):
                await self.redis.client.ping()
        except Exception as exc:
            if not self.degraded:
                self._degrade(exc)
            else:
                await self._drop_connections()
            raise LockUnavailable(f"Redis does not answer: {mask(str(exc) or type(exc).__name__)}; "
                                  f"locks are in-process (this replica only)") from None
        if self.degraded:
            if not await self._resync():
                raise LockUnavailable("Redis answers but the locks taken meanwhile could not be shared yet")
            self.degraded = False
            self.registry.recover("redis", "Redis is back: locks and dedup are shared again")

    # -- Locks protocol -----------------------------------------------------------------------------
    async def acquire(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        mine = self.local._held.get(key)
        if mine is not None and mine != token:
            return False
        if self._use_redis():
            try:
                ok = await self.redis.acquire(key, token, ttl)
            except LockUnavailable as exc:
                self._degrade(exc)
            else:
                if ok:
                    self.local._held[key] = token
                return ok
        ok = await self.local.acquire(key, token, ttl)
        if ok:
            self._local_only[key] = (token, ttl)
        return ok

    async def release(self, key: str, token: str) -> bool:
        released = await self.local.release(key, token)
        self._local_only.pop(key, None)
        if self._use_redis():
            try:
                released = await self.redis.release(key, token) or released
            except LockUnavailable as exc:
                self._degrade(exc)
        return released

    async def refresh(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        local = await self.local.refresh(key, token, ttl)
        if self._use_redis():
            try:
                return await self.redis.refresh(key, token, ttl) or local
            except LockUnavailable as exc:
                self._degrade(exc)
        return local

    async def holder(self, key: str) -> str | None:
        if self._use_redis():
            try:
                found = await self.redis.holder(key)
            except LockUnavailable as exc:
                self._degrade(exc)
            else:
                return found or await self.local.holder(key)
        return await self.local.holder(key)

    async def claim_once(self, key: str, ttl: float = 600.0) -> bool:
        now = time.monotonic()
        if self.local._claims.get(key, 0.0) > now:
            return False
        if self._use_redis():
            try:
                ok = await self.redis.claim_once(key, ttl)
            except LockUnavailable as exc:
                self._degrade(exc)
            else:
                if ok:
                    self.local._claims[key] = now + ttl
                return ok
        return await self.local.claim_once(key, ttl)

    async def close(self) -> None:
        for task in (self._probe_task, self._recovery):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.local.close()
        await self.redis.close()


# -- readiness ------------------------------------------------------------------------------------
Probe = Callable[[], Awaitable[None]]


@dataclass
class ReadinessReport:
    ready: bool
    checks: dict[str, str]  # component -> "ok" or the reason it is not
    degraded: dict[str, str] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [f"{name}: {state}" for name, state in self.checks.items() if state != "ok"]

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ready else "unavailable", "checks": self.checks,
                "reasons": self.reasons, "degraded": self.degraded}


class Readiness:
    """Named async probes run concurrently, each under `timeout`; ready only when all answer."""

    def __init__(self, timeout: float = 2.0, registry: Degradations | None = None) -> None:
        self.timeout = timeout
        self.registry = registry or degradations
        self.probes: dict[str, Probe] = {}

    def add(self, name: str, probe: Probe) -> Readiness:
        self.probes[name] = probe
        return self

    def add_store(self, store: Any) -> Readiness:
        """The store answers `SELECT 1` (in a thread: the store is synchronous)."""
        return self.add("store", lambda: asyncio.to_thread(store.ping))

    def add_redis(self, locks: Any) -> Readiness:
        """Redis answers PING, when the locks live in Redis (in-process locks need no probe)."""
        if isinstance(locks, ResilientLocks):
            return self.add("redis", locks.check)
        if isinstance(locks, RedisLocks):
            return self.add("redis", lambda: locks.client.ping())
        return self

    def add_socket(self, connection: Any) -> Readiness:
        """The Socket Mode connection (`SocketModeConnection.check`): 503 until hello, and while disconnected."""
        return self.add("slack_socket", connection.check)

    async def _one(self, probe: Probe) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                await probe()
        except TimeoutError:
            return f"no answer within {self.timeout:g}s"
        except Exception as exc:
            return mask(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return "ok"

    async def report(self) -> ReadinessReport:
        names = list(self.probes)
        states = await asyncio.gather(*(self._one(self.probes[n]) for n in names))
        checks = dict(zip(names, states, strict=True))
        return ReadinessReport(ready=all(s == "ok" for s in states), checks=checks,
                               degraded=self.registry.active())
