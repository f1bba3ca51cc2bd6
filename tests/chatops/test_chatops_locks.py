"""Run locks and redelivery claims, in Redis (SET NX PX + compare-and-delete) and in-process."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.coordination.locks import LocalLocks, LockBusy, LockUnavailable, RedisLocks, holding
from tests.conftest import REDIS_URL


@pytest.fixture(params=["local", "redis"])
async def locks(request: pytest.FixtureRequest, redis_prefix: str):  # type: ignore[no-untyped-def]
    if request.param == "local":
        yield LocalLocks()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    yield RedisLocks(client, redis_prefix)
    await client.aclose()


async def test_only_the_holder_releases(locks) -> None:  # type: ignore[no-untyped-def]
    assert await locks.acquire("run:x", "token-a", 5)
    assert not await locks.acquire("run:x", "token-b", 5)
    assert await locks.holder("run:x") == "token-a"
    assert not await locks.release("run:x", "token-b")  # compare-and-delete: not theirs
    assert await locks.refresh("run:x", "token-a", 5) and not await locks.refresh("run:x", "token-b", 5)
    assert await locks.release("run:x", "token-a")
    assert await locks.holder("run:x") is None
    assert await locks.acquire("run:x", "token-b", 5)


async def test_holding_is_exclusive_and_released(locks) -> None:  # type: ignore[no-untyped-def]
    async with holding(locks, "run:y", "one", ttl=0.3):
        with pytest.raises(LockBusy) as busy:
            async with holding(locks, "run:y", "two"):
                pass
        assert busy.value.holder == "one"
        await asyncio.sleep(0.5)  # outlives its TTL: the refresher keeps it
        assert await locks.holder("run:y") == "one"
    assert await locks.holder("run:y") is None


async def test_claim_once(locks) -> None:  # type: ignore[no-untyped-def]
    results = await asyncio.gather(*(locks.claim_once("delivery-1", 5) for _ in range(20)))
    assert results.count(True) == 1
    assert await locks.claim_once("delivery-2", 5)


async def test_redis_lock_expires_when_its_holder_dies(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        locks = RedisLocks(client, redis_prefix)
        assert await locks.acquire("run:z", "dead", 0.2)
        await asyncio.sleep(0.3)
        assert await locks.holder("run:z") is None
        assert await client.exists(f"{redis_prefix}lock:run:z") == 0
    finally:
        await client.aclose()


async def test_unreachable_redis_is_a_clear_error() -> None:
    client = aioredis.Redis.from_url("redis://:sekretpw@127.0.0.1:1/0", socket_connect_timeout=0.5)
    with pytest.raises(LockUnavailable) as err:
        await RedisLocks(client).acquire("run:q", "t")
    assert "sekretpw" not in str(err.value)
    await client.aclose()
