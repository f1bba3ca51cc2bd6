"""Redis dies under the bot and comes back: locks and dedup keep working in-process, a warning is
logged once and shown, nothing taken meanwhile is lost, and Redis is used again once it answers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.coordination.locks import REDIS_DEGRADED, RedisLocks, ResilientLocks, build_locks, holding, redis_client
from bot.diagnostics.degradations import degradations
from bot.serving.server import Readiness
from tests.production.servers import RedisServer


def make_locks(server: RedisServer) -> ResilientLocks:
    return ResilientLocks(RedisLocks(redis_client(server.url), "golive:t:"), retry_interval=0.2)


async def wait_recovered(locks: ResilientLocks, timeout: float = 10.0) -> None:
    """Keep using the locks (as the bot would) until the background probe has found Redis again."""
    deadline = time.monotonic() + timeout
    while locks.degraded:
        if time.monotonic() > deadline:
            raise TimeoutError("Redis not used again")
        await locks.holder("anything")
        await asyncio.sleep(0.05)


async def test_locks_and_claims_fall_back_and_recover(redis_server: RedisServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="golive.degrade")
    locks = make_locks(redis_server)
    try:
        # healthy: Redis decides, and the mirror remembers
        assert await locks.acquire("run:day1", "run-a")
        assert await locks.claim_once("click:1")
        assert not await locks.claim_once("click:1")

        redis_server.stop()
        assert await locks.acquire("run:smoke", "run-s")  # the first call that needs Redis notices
        assert locks.degraded
        # a lock held before the outage still holds; a click claimed before still acts once
        assert not await locks.acquire("run:day1", "run-b")
        assert not await locks.claim_once("click:1")
        assert degradations.active() == {"redis": REDIS_DEGRADED}
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "golive.degrade"]
        assert len(warnings) == 1 and "in-process" in warnings[0].getMessage()

        # degraded: new locks and claims work in-process, without waiting on a dead Redis: counted, not timed
        # (the background probe pings Redis on its own; the calls themselves never ask it)
        asked: list[str] = []
        redis_acquire, redis_claim = locks.redis.acquire, locks.redis.claim_once

        async def acquire_counted(*args: object, **kwargs: object) -> bool:
            asked.append("acquire")
            return await redis_acquire(*args, **kwargs)  # type: ignore[arg-type]  # passes the caller's through

        async def claim_counted(*args: object, **kwargs: object) -> bool:
            asked.append("claim_once")
            return await redis_claim(*args, **kwargs)  # type: ignore[arg-type]  # passes the caller's through

        locks.redis.acquire, locks.redis.claim_once = acquire_counted, claim_counted  # type: ignore[method-assign]  # counting wrappers
        assert await locks.acquire("run:day2", "run-c")
        assert not await locks.acquire("run:day2", "run-d")
        assert await locks.claim_once("click:2")
        assert not await locks.claim_once("click:2")
        assert asked == [], f"degraded calls still asked the dead Redis: {asked}"
        locks.redis.acquire, locks.redis.claim_once = redis_acquire, redis_claim  # type: ignore[method-assign]  # restored
        assert await locks.release("run:day1", "run-a")
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # logged once

        # Redis returns: the probe notices, the lock taken meanwhile is written to Redis
        redis_server.start()
        await wait_recovered(locks)
        assert degradations.active() == {}
        assert any("back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
        other = RedisLocks(redis_client(redis_server.url), "golive:t:")  # another replica
        assert await other.holder("run:day2") == "run-c"
        assert not await other.acquire("run:day2", "replica-2")
        assert await locks.release("run:day2", "run-c")
        assert await other.acquire("run:day2", "replica-2")
        await other.close()
    finally:
        await locks.close()


async def test_holding_survives_redis_dying_mid_run(redis_server: RedisServer) -> None:
    """A run that holds its lock when Redis dies finishes, releases, and the phase can run again."""
    locks = make_locks(redis_server)
    try:
        async with holding(locks, "run:day3", "r1", ttl=0.6):
            redis_server.stop()
            await asyncio.sleep(0.3)  # the refresher runs against a dead Redis
            assert not await locks.acquire("run:day3", "r2")
        assert await locks.acquire("run:day3", "r3")
    finally:
        await locks.close()


async def test_readiness_reports_redis_down_then_up(redis_server: RedisServer) -> None:
    locks = make_locks(redis_server)
    readiness = Readiness(timeout=1.0).add_redis(locks)
    try:
        assert (await readiness.report()).ready
        redis_server.stop()
        report = await readiness.report()
        assert not report.ready
        assert report.checks["redis"] != "ok" and report.reasons[0].startswith("redis: ")
        assert "redis" in report.degraded
        redis_server.start()
        report = await readiness.report()
        assert report.ready and report.degraded == {}
    finally:
        await locks.close()


async def test_build_locks_is_resilient_with_a_redis_url(redis_server: RedisServer) -> None:
    locks = build_locks(redis_server.url, "golive:t:")
    try:
        assert isinstance(locks, ResilientLocks)
    finally:
        await locks.close()
