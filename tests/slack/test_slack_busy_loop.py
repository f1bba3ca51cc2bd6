"""What keeps the ack path short while the bot is busy: one pooled session for every Web API call (Bolt's
copies of a request share it), and deferred Bolt dispatches taken one per loop turn, never as a batch."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.ackfirst import AckFirst
from bot.slack.runtime import share_session


async def test_every_web_api_call_goes_through_one_pooled_session_that_copies_share() -> None:
    client = AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    session = share_session(client)
    try:
        assert session is not None and client.session is session
        # Bolt deep-copies each request, with its context's client, for the lazy listeners
        assert copy.deepcopy({"client": client})["client"].session is session
        assert share_session(client) is None  # a client that has a session keeps it
    finally:
        assert session is not None
        await session.close()


async def test_a_stand_in_client_is_left_as_it_is() -> None:
    class StandIn:
        session = None

    assert share_session(StandIn()) is None  # type: ignore[arg-type]


async def test_a_burst_is_dispatched_by_one_worker_one_request_per_loop_turn() -> None:
    loop = asyncio.get_running_loop()
    turn = {"n": 0}
    seen: list[int] = []

    def tick() -> None:
        turn["n"] += 1
        ticker[0] = loop.call_soon(tick)

    ticker = [loop.call_soon(tick)]

    class Bolt:
        async def async_dispatch(self, request: Any) -> None:
            seen.append(turn["n"])

    ack_first = AckFirst(Bolt(), signing_secret="s", quiet=0.0, max_wait=0.0)
    try:
        for _ in range(8):
            ack_first.defer(object())  # type: ignore[arg-type]
        workers = set(ack_first.pending)
        await ack_first.drain()
    finally:
        ticker[0].cancel()
    assert len(workers) == 1  # one task for the whole burst, not one polling task per request
    assert ack_first.dispatched == 8 and len(seen) == 8
    assert len(set(seen)) == 8, f"dispatches shared a loop turn: {seen}"
