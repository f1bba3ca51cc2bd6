"""Delivery that loses nothing: a run with many failures against stand-ins that enforce the services'
per-channel limits (a burst of 4, then one post per 0.1 s here; Slack's real one is per second) delivers
every piece of evidence, grouped and paced, without running into the limit; what cannot be delivered is
recorded, shown in `status`, and the verdict never claims it."""

from __future__ import annotations

import pytest

from bot.runs.status import build_status
from bot.store import Store
from checks.spec import Checklist
from tests.conversation.harness import Harness, harness_for

FAILING = [f"fail.{i:02d}" for i in range(1, 13)]
PACING = {"post_interval": 0.12, "post_burst": 4}  # the bot's pacer, a little slower than the stand-in
LIMIT = (4, 0.1)


def throttled(harness: Harness) -> int:
    calls = harness.stub.calls if harness.transport == "slack" else harness.connector.calls  # type: ignore[attr-defined]
    return sum(c.method.endswith("!429") for c in calls)


@pytest.mark.parametrize("transport", ["slack", "teams"])
async def test_twelve_failures_deliver_all_their_evidence_within_the_limit(transport: str, store: Store,
                                                                         checklist: Checklist,
                                                                         isolated_env: None) -> None:
    async with harness_for(transport, store, checklist, settings=PACING, slack_limit=LIMIT,
                           teams_limit=LIMIT) as harness:
        await harness.receive("run many", user=harness.user("rel"), key="run-many")
        [parent] = [m for m in harness.public() if "NO-GO" in m.text]
        replies = harness.in_thread_of(parent)
        delivered = " ".join(r.text for r in replies)
        assert all(check in delivered for check in FAILING), delivered
        assert len(replies) <= len(FAILING)  # grouped when they pile up, never dropped
        assert throttled(harness) <= 1
        print(f"{transport}: {len(replies)} evidence replies for {len(FAILING)} failed checks, "
              f"{throttled(harness)} answered 429")
        assert "evidence in the thread" in parent.text and "could not be posted" not in parent.text


async def test_teams_without_pacing_still_delivers_everything_after_retry_after(store: Store, checklist: Checklist,
                                                                               isolated_env: None) -> None:
    """The connector throttles (429 with Retry-After): each post is retried after the time it asked for."""
    async with harness_for("teams", store, checklist, settings={"post_interval": 0.0},
                           teams_limit=(1, 0.5)) as harness:  # harsh enough to be met on a busy machine too
        await harness.receive("run many", user=harness.user("rel"), key="run-many")
        [parent] = [m for m in harness.public() if "NO-GO" in m.text]
        delivered = " ".join(r.text for r in harness.in_thread_of(parent))
        assert all(check in delivered for check in FAILING)
        assert throttled(harness) >= 1  # it did meet the limit, and lost nothing to it


@pytest.mark.parametrize("transport", ["slack", "memory"])
async def test_evidence_that_cannot_be_posted_is_recorded_and_never_claimed(transport: str, store: Store,
                                                                          checklist: Checklist,
                                                                          isolated_env: None) -> None:
    async with harness_for(transport, store, checklist) as harness:
        if transport == "slack":
            harness.stub.refuse_replies = "msg_blocks_too_long"  # type: ignore[attr-defined]
        else:
            refuse_replies(harness)
        await harness.receive("run day1", user=harness.user("rel"), key="run-1")
        [parent] = [m for m in harness.public() if "NO-GO" in m.text]
        assert harness.in_thread_of(parent) == []
        assert "1 evidence reply could not be posted (cache.down)" in parent.text
        assert "evidence in the thread" not in parent.text
        warnings = build_status(store, checklist).warnings
        assert any(w.startswith(f"1 evidence reply could not be posted in {transport}") and "cache.down" in w
                   for w in warnings), warnings


def refuse_replies(harness: Harness) -> None:
    """The in-memory channel refuses every thread reply."""
    memory = harness.memory  # type: ignore[attr-defined]
    deliver = memory.deliver_post

    async def refusing(message, *, channel, thread, broadcast):  # type: ignore[no-untyped-def]
        if thread is not None:
            raise RuntimeError("the channel refused the reply")
        return await deliver(message, channel=channel, thread=thread, broadcast=broadcast)

    memory.deliver_post = refusing
