"""Locks that keep one run of a phase at a time, and claims that let a redelivered request act once.

With `GOLIVE_REDIS_URL` the locks live in Redis (SET NX PX with a token, released and refreshed only
by the token's owner), so several bot replicas agree; without it they live in this process.
While Redis is unreachable, `ResilientLocks` falls back to in-process locks and goes back to Redis
(re-registering what was taken meanwhile) when it returns.

One bot serves many services: `for_service` gives a service its view of the bot's locks, every key named
for the service (bot.store.servicekeys), so the same selector locked in two services never collides. The
default service keeps today's names: a running single-service install sees no change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from bot.diagnostics.degradations import Degradations, degradations
from bot.store.servicekeys import DEFAULT_SERVICE, service_key
from checks.masking import mask

log = logging.getLogger("golive.degrade")

LOCK_TTL = 30.0
"""Seconds a lock outlives a dead holder; a live holder refreshes it every third of that."""

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_REFRESH = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
            "else return 0 end")


class LockBusy(Exception):
    """Someone else holds the lock; `holder` is their token (a run id) when known."""

    def __init__(self, key: str, holder: str | None) -> None:
        super().__init__(f"{key} is held by {holder or 'someone else'}")
        self.key, self.holder = key, holder


class LockUnavailable(RuntimeError):
    """The lock backend cannot be reached; the message is safe to show."""


class Locks(Protocol):
    async def acquire(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool: ...
    async def release(self, key: str, token: str) -> bool: ...
    async def refresh(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool: ...
    async def holder(self, key: str) -> str | None: ...
    async def claim_once(self, key: str, ttl: float = 600.0) -> bool: ...
    async def close(self) -> None: ...


class LocalLocks:
    """In-process locks. Check-and-set happens without an await, so the event loop makes it atomic;
    a lock dies with the process, which is what lets a restarted bot see its runs as interrupted."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._claims: dict[str, float] = {}

    async def acquire(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        if key in self._held:
            return False
        self._held[key] = token
        return True

    async def release(self, key: str, token: str) -> bool:
        if self._held.get(key) != token:
            return False
        del self._held[key]
        return True

    async def refresh(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        return self._held.get(key) == token

    async def holder(self, key: str) -> str | None:
        return self._held.get(key)

    async def claim_once(self, key: str, ttl: float = 600.0) -> bool:
        now = time.monotonic()
        if len(self._claims) > 10_000:
            self._claims = {k: v for k, v in self._claims.items() if v > now}
        if self._claims.get(key, 0.0) > now:
            return False
        self._claims[key] = now + ttl
        return True

    async def close(self) -> None:
        self._held.clear()


class RedisLocks:
    """Redis locks shared by every replica: SET NX PX with a token, compare-and-delete on release."""

    def __init__(self, client: Any, prefix: str = "golive:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    async def _call(self, coro: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await coro
        except (RedisError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LockUnavailable(f"Redis is unavailable for locks: {mask(first)}") from None

    async def acquire(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        return bool(await self._call(self.client.set(self._key("lock", key), token, nx=True, px=int(ttl * 1000))))

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._call(self.client.eval(_RELEASE, 1, self._key("lock", key), token)))

    async def refresh(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        return bool(await self._call(self.client.eval(_REFRESH, 1, self._key("lock", key), token, int(ttl * 1000))))

    async def holder(self, key: str) -> str | None:
        value = await self._call(self.client.get(self._key("lock", key)))
        return value.decode() if isinstance(value, bytes) else value

    async def claim_once(self, key: str, ttl: float = 600.0) -> bool:
        return bool(await self._call(self.client.set(self._key("once", key), "1", nx=True, px=int(ttl * 1000))))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


class ServiceRedisLocks(RedisLocks):
    """One service's keys in Redis itself (`golive:lock:svc:<key>:...`): for what must be shared or not be
    (leader leases, alert dedup), on the client of the bot's `RedisLocks`."""

    def __init__(self, client: Any, prefix: str, service: str) -> None:
        super().__init__(client, prefix)
        self.service = service

    def _key(self, kind: str, key: str) -> str:
        return super()._key(kind, service_key(self.service, key))

    async def close(self) -> None:
        """The client is the bot's: it closes it once, not each service."""


class ServiceLocks:
    """One service's view of the bot's locks: the same backend (Redis, its in-process fallback, or this
    process), every key named for the service. Closing it leaves the shared locks to their owner."""

    def __init__(self, inner: Locks, service: str) -> None:
        self.inner = inner
        self.service = service

    def _key(self, key: str) -> str:
        return service_key(self.service, key)

    async def acquire(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        return await self.inner.acquire(self._key(key), token, ttl)

    async def release(self, key: str, token: str) -> bool:
        return await self.inner.release(self._key(key), token)

    async def refresh(self, key: str, token: str, ttl: float = LOCK_TTL) -> bool:
        return await self.inner.refresh(self._key(key), token, ttl)

    async def holder(self, key: str) -> str | None:
        return await self.inner.holder(self._key(key))

    async def claim_once(self, key: str, ttl: float = 600.0) -> bool:
        return await self.inner.claim_once(self._key(key), ttl)

    async def close(self) -> None:
        """Nothing: the bot closes its locks once, whatever the number of services using them."""

    @property
    def state(self) -> str:
        return str(getattr(self.inner, "state", "in-process"))

    @property
    def redis(self) -> RedisLocks | None:
        """Redis itself for this service's keys (see `shared_redis`), None without Redis."""
        inner = shared_redis(self.inner)
        return None if inner is None else ServiceRedisLocks(inner.client, inner.prefix, self.service)


def for_service(locks: Locks, service: str) -> Locks:
    """Service `service`'s view of `locks`: `locks` itself for the default service (today's names), else a
    `ServiceLocks` (another service's view is re-keyed for this one, never stacked)."""
    root = locks.inner if isinstance(locks, ServiceLocks) else locks
    return root if service == DEFAULT_SERVICE else ServiceLocks(root, service)


def shared_redis(locks: Locks) -> RedisLocks | None:
    """Redis itself behind `locks`, never an in-process fallback: leadership and alert dedup must be shared
    or not be. None when the locks are in-process only."""
    if isinstance(locks, RedisLocks):
        return locks
    inner = getattr(locks, "redis", None)  # ResilientLocks, ServiceLocks
    return inner if isinstance(inner, RedisLocks) else None


def redis_client(url: str) -> Any:
    """An asyncio Redis client with short timeouts: a dead Redis must fail fast, not hang a command."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False)


def build_locks(redis_url: str | None, prefix: str = "golive:") -> Locks:
    if not redis_url:
        return LocalLocks()
    return ResilientLocks(RedisLocks(redis_client(redis_url), prefix))


@contextlib.asynccontextmanager
async def holding(locks: Locks, key: str, token: str, *, ttl: float = LOCK_TTL) -> AsyncIterator[None]:
    """Hold `key` for the duration of the block, refreshing it so it only expires if we die."""
    async with holding_all(locks, [key], token, ttl=ttl):
        yield


@contextlib.asynccontextmanager
async def holding_all(locks: Locks, keys: list[str], token: str, *, ttl: float = LOCK_TTL) -> AsyncIterator[None]:
    """Hold every key (a run's selector and each of its checks) or none: two runs that share a check never
    run at once. Keys are taken in sorted order without waiting, so two runs cannot deadlock; `LockBusy`
    names the first key someone else holds, and its holder."""
    acquired: list[str] = []
    try:
        for key in sorted(set(keys)):
            if not await locks.acquire(key, token, ttl):
                raise LockBusy(key, await locks.holder(key))
            acquired.append(key)
    except BaseException:
        for key in acquired:
            with contextlib.suppress(LockUnavailable):
                await asyncio.shield(locks.release(key, token))
        raise

    # The refresher ends on `stopped`, not on cancel() alone: Python 3.11's asyncio.wait_for (redis-py wraps
    # every command's write in it) returns the result and drops a cancel that lands as the write completes,
    # and a refresher stopped only by cancel() then refreshed forever while the block's exit waited for it.
    stopped = asyncio.Event()

    async def keep_alive() -> None:
        while not stopped.is_set():
            await asyncio.sleep(ttl / 3)
            for key in acquired:
                if stopped.is_set():
                    return
                with contextlib.suppress(LockUnavailable, TimeoutError):
                    async with asyncio.timeout(ttl / 3):  # a store that stops answering does not hold it
                        await locks.refresh(key, token, ttl)

    what = f"{acquired[0]} (+{len(acquired) - 1} more keys)" if len(acquired) > 1 else "".join(acquired)
    refresher = asyncio.create_task(keep_alive(), name=f"refresh lock {what}")
    try:
        yield
    finally:
        stopped.set()
        refresher.cancel()
        try:  # bounded: its refresh is, and it checks `stopped` as soon as that returns
            _, late = await asyncio.wait([refresher], timeout=ttl / 3)
            if late:
                log.warning("the refresher of lock %s did not stop within %gs; it ends at its next step", what, ttl / 3)
            elif not refresher.cancelled() and (exc := refresher.exception()) is not None:
                log.warning("refreshing lock %s failed: %s", what, mask(f"{type(exc).__name__}: {exc}"))
        finally:  # released even when this task is cancelled meanwhile, which then still propagates
            for key in acquired:
                with contextlib.suppress(LockUnavailable):
                    await asyncio.shield(locks.release(key, token))


REDIS_DEGRADED = ("Redis is unreachable: locks and dedup are in-process (this replica only) until it returns")


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
