"""`/golive run day1` against the real PostgreSQL and Redis: a fast ack while a long check runs, one
parent message that ends with the verdict, failures threaded, passes summarised, one run at a time."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.slack.ids import TRANSPORT
from tests.conftest import REDIS_URL
from tests.slack.support import CHANNEL, SECRETS, SlackStub, running_bot


def verdict_posted(stub: SlackStub) -> bool:
    """The run is over (its verdict is on the parent): an ack given before this did not wait for the run."""
    return any("NO-GO" in c.text for c in stub.calls if c.method == "chat.update")


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> float:
    seconds = 10.0  # a check as slow as the example: acks must not wait for it
    monkeypatch.setenv("TEST_SLOW_SECONDS", str(seconds))
    return seconds


async def test_run_day1_acks_fast_threads_failures_and_ends_with_the_verdict(
        stub: SlackStub, checklist, store, redis_prefix: str, slow: float, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix,
                           progress_interval=0.3) as bot:
        first = await bot.command("run day1", user="U0RELEASE", response="run1")
        assert first.status == 200 and first.body == ""
        assert not verdict_posted(stub)  # acked while the 10 s check runs: an order, not a timing (bench: ack_latency)
        parent_post = (await stub.wait_for(lambda: stub.posts(top_level=True), what="parent message"))[0]
        parent_ts = parent_post.payload["ts"]
        assert parent_post.payload["channel"] == CHANNEL
        assert "running" in parent_post.text

        # While the slow check runs: commands are still acknowledged at once, and a second run of the
        # same phase is refused (ephemeral) instead of starting twice.
        await stub.wait_for(lambda: stub.posts(thread_ts=parent_ts), what="the redis.ping failure reply")
        second = await bot.command("run day1", user="U0OTHER", response="run2")
        status = await bot.command("status", response="status")
        assert second.status == status.status == 200 and not verdict_posted(stub)  # acked during the run
        busy = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                            if c.payload["response_url_name"] == "run2"], what="busy reply")
        assert "already running" in busy[0].text and busy[0].payload["response_type"] == "ephemeral"
        assert len(store.runs()) == 1

        final = await stub.wait_for(lambda: [c for c in stub.updates(parent_ts) if "NO-GO" in c.text],
                                    timeout=30, what="the verdict in the parent")
        assert stub.updates(parent_ts)[-1] is final[-1]  # the verdict is the last word
        blocks = final[-1].blocks_json
        assert "redis.ping" in blocks and "Passed (3)" in blocks
        for check in ("db.connect", "redis.roundtrip", "slow.step"):
            assert check in blocks

        # exactly one threaded reply, for the failed check, with its evidence; no message per pass
        replies = stub.posts(thread_ts=parent_ts)
        assert len(replies) == 1
        assert "redis.ping" in replies[0].text and "127.0.0.1:1" in replies[0].blocks_json
        top_level = stub.posts(top_level=True)  # the run's parent and the status message asked for meanwhile
        assert len(top_level) == 2 and top_level[0].payload["ts"] == parent_ts
        assert "go-live status" in top_level[1].blocks_json and "Running now" in top_level[1].blocks_json

        # progress edits were throttled (4 results, interval 0.3 s, one final)
        assert 1 <= len(stub.updates(parent_ts)) <= 5

        run = store.runs()[0]
        assert run.status == "finished" and run.verdict.decision.value == "no_go"
        assert run.requested_by == "U0RELEASE" and run.source == TRANSPORT
        assert store.message(run.id, TRANSPORT, "parent").ts == parent_ts
        assert store.message(run.id, TRANSPORT, "thread:redis.ping").thread_ts == parent_ts
        stub.assert_clean()
    assert caplog.text and not any(secret in caplog.text for secret in SECRETS)
    print(f"\nack latency: first {first.seconds * 1000:.1f} ms, during the run {second.seconds * 1000:.1f} ms "
          f"and {status.seconds * 1000:.1f} ms")


async def test_unknown_selector_and_unknown_subcommand_get_ephemeral_help(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("run day9", response="bad-run")
        await bot.command("deploy everything", response="unknown")
        await bot.command("", response="empty")
        replies = await stub.wait_for(lambda: len(stub.of("response_url")) == 3 and stub.of("response_url"))
        by_name = {c.payload["response_url_name"]: c for c in replies}
        assert "neither a phase nor a check" in by_name["bad-run"].text
        assert "day9" in by_name["bad-run"].text
        assert "deploy everything" in by_name["unknown"].blocks_json
        assert "/golive signoff" in by_name["empty"].blocks_json
        assert all(c.payload["response_type"] == "ephemeral" for c in replies)
        assert store.runs() == [] and stub.posts() == []
        stub.assert_clean()


async def test_history_lists_runs(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("run day2")
        await stub.wait_for(lambda: any("GO" in c.text for c in stub.of("chat.update")), what="day2 verdict")
        await bot.command("history", response="history")
        reply = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                             if c.payload["response_url_name"] == "history"])
        assert "day2" in reply[0].blocks_json and store.runs()[0].id in reply[0].blocks_json
        stub.assert_clean()


async def test_bot_not_in_channel_still_tells_the_requester(stub: SlackStub, checklist, store) -> None:
    stub.error_next("chat.postMessage", "not_in_channel")
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("run day2", response="private")
        reply = await stub.wait_for(lambda: stub.of("response_url"), what="verdict to the requester")
        assert "not_in_channel" in reply[0].text and "GO" in reply[0].text
        assert store.runs()[0].status == "finished"
        stub.assert_clean()


async def test_runs_of_the_same_phase_from_two_replicas_share_the_redis_lock(
        stub: SlackStub, checklist, store, redis_prefix: str, slow: float) -> None:
    """Two bot processes (here: two apps) on one Redis: the second refuses while the first runs."""
    async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix) as one, \
            running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix) as two:
        await one.command("run day1")
        await stub.wait_for(lambda: stub.posts(top_level=True), what="parent")
        await two.command("run day1", response="replica2")
        busy = await stub.wait_for(lambda: stub.of("response_url"), what="busy")
        assert "already running" in busy[0].text
        await stub.wait_for(lambda: any("NO-GO" in c.text for c in stub.of("chat.update")), timeout=30)
        await asyncio.sleep(0.1)
        assert len(store.runs()) == 1
        assert len(stub.of("response_url")) == 1
        stub.assert_clean()
