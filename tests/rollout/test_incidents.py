"""Incident bookkeeping on real Redis: two replicas seeing the same samples post each transition once,
escalation happens once past its time, and inconclusive samples never count as healthy."""

from __future__ import annotations

from bot.coordination.locks import RedisLocks
from bot.rollout.incidents import IncidentTracker, MemoryIncidentStore, RedisIncidentStore
from bot.rollout.lease import LeaderLease
from bot.rollout.models import WatchConfig
from bot.rollout.rules import Reading

BREACH = [Reading("error_rate", "P0", "breach", "5xx error rate 5.0% > 1.0%", 0.05, 0.01)]
HEALTHY = [Reading("error_rate", "P0", "ok", value=0.0, threshold=0.01)]
UNKNOWN = [Reading("error_rate", "P0", "inconclusive", "5xx error rate: metrics answered 500")]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_two_replicas_sharing_redis_post_each_transition_once(locks: RedisLocks) -> None:
    config = WatchConfig(consecutive=2, escalate_after_seconds=60)
    clock = Clock()
    replicas = [IncidentTracker("shop", RedisIncidentStore(locks.client, locks.prefix, "shop"), config, clock)
                for _ in range(2)]
    posted = []
    for readings, advance in [(BREACH, 0), (BREACH, 0), (BREACH, 30), (BREACH, 31), (BREACH, 5), (HEALTHY, 1),
                              (HEALTHY, 1), (HEALTHY, 1)]:
        clock.now += advance
        for replica in replicas:
            posted += [(e.state, e.level) for e in await replica.observe(readings, "phase-2")]
    assert posted == [("opened", "P0"), ("escalated", "P0"), ("resolved", "P0")]


async def test_inconclusive_keeps_the_breach_count_and_breaks_the_healthy_streak() -> None:
    tracker = IncidentTracker("shop", MemoryIncidentStore(), WatchConfig(consecutive=2, recover_after=2))

    async def states(*samples: list[Reading]) -> list[str]:
        return [e.state for s in samples for e in await tracker.observe(s, "phase-1")]

    assert await states(BREACH, UNKNOWN, UNKNOWN) == []
    assert await states(BREACH) == ["opened"]  # breach, ?, ?, breach → two breaching samples in a row
    assert await states(HEALTHY, UNKNOWN, HEALTHY, UNKNOWN, UNKNOWN) == []  # unknown is never healthy
    assert await states(HEALTHY, HEALTHY) == ["resolved"]
    assert await states(HEALTHY, BREACH, HEALTHY, BREACH) == []  # a healthy sample resets the count


async def test_leader_lease_is_exclusive_renewable_and_handed_back(locks: RedisLocks) -> None:
    first = LeaderLease(locks, "shop", lease_seconds=2, owner="replica-a")
    second = LeaderLease(locks, "shop", lease_seconds=2, owner="replica-b")
    assert await first.try_acquire() and not await second.try_acquire()
    assert await first.renew() and not await second.renew()
    assert await second.holder() == "replica-a"
    await second.release()  # not the holder: a no-op
    assert await first.holder() == "replica-a"
    await first.release()
    assert await second.try_acquire() and await second.holder() == "replica-b"
    assert not await first.renew()  # a leader that lost its lease learns it on the next renewal
