"""Locks that keep one run of a phase at a time, and claims that let a redelivered request act once.

With `GOLIVE_REDIS_URL` the locks live in Redis (SET NX PX with a token, released and refreshed only
by the token's owner), so several bot replicas agree; without it they live in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from checks.masking import mask

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


def redis_client(url: str) -> Any:
    """An asyncio Redis client with short timeouts: a dead Redis must fail fast, not hang a command."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False)


def build_locks(redis_url: str | None, prefix: str = "golive:") -> Locks:
    if not redis_url:
        return LocalLocks()
    from bot.degrade import ResilientLocks  # Redis down: in-process locks and dedup, a warning, recovery

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

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            for key in acquired:
                with contextlib.suppress(LockUnavailable):
                    await locks.refresh(key, token, ttl)

    refresher = asyncio.create_task(keep_alive())
    try:
        yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        for key in acquired:
            with contextlib.suppress(LockUnavailable):
                await asyncio.shield(locks.release(key, token))
