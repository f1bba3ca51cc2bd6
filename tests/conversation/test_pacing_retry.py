"""The two mechanisms delivery rests on, on their own: the per-channel pacer and the retry policy."""

from __future__ import annotations

import time

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from bot.conversation.pacing import Pacer
from bot.conversation.retry import Retryable, RetryPolicy
from bot.teams.conversation import retryable


def test_the_pacer_allows_a_burst_then_one_post_per_interval_per_channel() -> None:
    pacer = Pacer(burst=4, interval=10.0)
    assert [pacer.reserve("C1") for _ in range(4)] == [0.0] * 4  # the burst goes at once
    waits = [pacer.reserve("C1") for _ in range(3)]
    assert [round(w) for w in waits] == [10, 20, 30]  # then one slot per interval, in order
    assert pacer.reserve("C2") == 0.0  # another channel has its own budget


async def test_the_pacer_waits_for_its_slot() -> None:
    pacer = Pacer(burst=1, interval=0.05)
    started = time.monotonic()
    for _ in range(3):
        await pacer.wait("C1")
    assert time.monotonic() - started >= 0.09


def error(status: int, retry_after: str | None = None) -> aiohttp.ClientResponseError:
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": retry_after} if retry_after else {}))
    return aiohttp.ClientResponseError(None, (), status=status, headers=headers)  # type: ignore[arg-type]


def test_429_waits_what_the_connector_asked_and_5xx_backs_off() -> None:
    throttled = retryable(error(429, "2.5"))
    assert isinstance(throttled, Retryable) and throttled.after == 2.5
    failed = retryable(error(503))
    assert isinstance(failed, Retryable) and failed.after is None
    wrong = error(400)
    assert retryable(wrong) is wrong  # the request itself is wrong: no retry


async def test_the_policy_retries_until_success_and_gives_up_after_its_attempts() -> None:
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise Retryable("throttled", after=0.05)
        return "ok"

    assert await RetryPolicy(attempts=4).call(flaky, what="post") == "ok"
    assert len(calls) == 3 and calls[2] - calls[0] >= 0.09  # it waited the Retry-After each time

    async def down() -> str:
        raise Retryable("503")

    with pytest.raises(Retryable):
        await RetryPolicy(attempts=3, backoff=0.01).call(down, what="post")
