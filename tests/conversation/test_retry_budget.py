"""Hole 5 of issue 21: under a limit harsher than Slack documents (a burst of 2, then one post per 2 s),
twelve posts at once must all arrive, each retry waiting exactly what Retry-After said, for as long as
the waits fit the time budget; past it a post is given up and counted as such (never claimed). Runs on a
virtual clock: nothing here sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Iterable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.conversation.retry import Retryable, RetryPolicy
from bot.slack.client import build_web_client
from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub

HARSH = (2, 2.0)  # a burst of 2, then 0.5 posts per second


class VirtualClock:
    """Time that moves only when every task is waiting on it: the earliest sleeper wakes, at its time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def run(self, coros: Iterable[Awaitable[Any]]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=0.01)  # the stand-in's HTTP answers arrive meanwhile
            if self._sleepers and len(self._sleepers) == sum(not t.done() for t in tasks):
                when, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, when)
                future.set_result(None)
        return [t.exception() or t.result() for t in tasks]


async def post_twelve(budget: float) -> tuple[SlackStub, VirtualClock, list[Any]]:
    clock = VirtualClock()
    stub = await SlackStub(post_limit=HARSH, clock=clock.time).start()
    client = build_web_client(BOT_TOKEN, stub.api_url, sleep=clock.sleep, budget=budget)
    try:
        results = await clock.run(client.chat_postMessage(channel=CHANNEL, text=f"evidence {i}") for i in range(12))
    finally:
        await stub.close()
    return stub, clock, results


async def test_twelve_posts_under_a_harsh_limit_all_arrive_waiting_what_retry_after_said() -> None:
    stub, clock, results = await post_twelve(budget=60.0)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert sorted(c.payload["text"] for c in stub.of("chat.postMessage")) == sorted(f"evidence {i}" for i in range(12))
    refused = [c for c in stub.calls if c.method == "chat.postMessage!429"]
    assert len(refused) == len(clock.waits) > 12  # more retries than a fixed count of 3 tries allows
    assert set(clock.waits) == {2.0}  # each wait is the stand-in's Retry-After, never a guess
    assert clock.now >= 10 * HARSH[1]  # 10 posts beyond the burst, one slot each


async def test_past_the_time_budget_a_post_is_given_up_and_counted_never_claimed() -> None:
    stub, clock, results = await post_twelve(budget=5.0)
    failed = [r for r in results if isinstance(r, SlackApiError)]
    delivered = [r for r in results if not isinstance(r, BaseException)]
    assert failed and all(f.response["error"] == "ratelimited" for f in failed)
    assert len(delivered) + len(failed) == 12
    assert len(stub.of("chat.postMessage")) == len(delivered)  # what was claimed is what arrived
    assert max(clock.waits) <= 5.0


async def test_the_policy_follows_retry_after_for_as_long_as_its_budget_allows() -> None:
    clock = VirtualClock()
    calls: list[float] = []

    async def throttled_ten_times() -> str:
        calls.append(clock.now)
        if len(calls) <= 10:
            raise Retryable("throttled (429)", after=2.0)
        return "posted"

    policy = RetryPolicy(budget=60.0, sleep=clock.sleep)
    [answer] = await clock.run([policy.call(throttled_ten_times, what="post")])
    assert answer == "posted" and calls == [2.0 * i for i in range(11)]

    async def always_throttled() -> str:
        raise Retryable("throttled (429)", after=25.0)

    clock.waits.clear()
    [error] = await clock.run([RetryPolicy(budget=60.0, sleep=clock.sleep).call(always_throttled, what="post")])
    assert isinstance(error, Retryable) and clock.waits == [25.0, 25.0]  # a third wait would pass 60 s
