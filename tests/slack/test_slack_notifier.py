"""The Slack notifier: announcements open a rollout phase's thread in the release channel, alerts
land in that thread (opened, escalated with the mention, all-clear), P0 alerts carry a Roll back button."""

from __future__ import annotations

import asyncio

from bot.announcements.events import AlertEvent, Announcement, FanoutNotifier
from bot.slack.client import build_web_client
from bot.slack.ids import ACTION_ROLLOUT_KEEP_GOING, ACTION_ROLLOUT_ROLLBACK, TRANSPORT
from bot.slack.notifier import SlackNotifier
from bot.slack.poster import SlackPoster
from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub


def notifier(stub: SlackStub, store, channel: str | None = CHANNEL) -> SlackNotifier:  # type: ignore[no-untyped-def]
    return SlackNotifier(SlackPoster(build_web_client(BOT_TOKEN, stub.api_url), store), channel)


def buttons(call) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["action_id"]: e["value"] for b in call.payload["blocks"] for e in b.get("elements", [])
            if e.get("type") == "button"}


def alert(state: str, **kw) -> AlertEvent:  # type: ignore[no-untyped-def]
    base = dict(incident_id="inc-1", state=state, level="P0", rule="p95_latency",
                message="p95 latency 2430 ms > 2000 ms", checklist="hunter", phase="phase-2", value=2430,
                threshold=2000)
    base.update(kw)
    return AlertEvent(**base)


async def test_announcement_then_alert_lifecycle_in_one_thread(stub: SlackStub, store) -> None:
    slack = notifier(stub, store)
    await slack.publish(Announcement(kind="promoted", checklist="hunter", phase="phase-2", actor="U0TECH",
                                     flags={"HUNTER_PARTNER_CENTER_ENABLED": "true"}, previous_phase="phase-1"))
    parent = stub.posts(top_level=True)[0]
    assert parent.payload["channel"] == CHANNEL and "promoted to phase-2 (was phase-1)" in parent.text
    assert "HUNTER_PARTNER_CENTER_ENABLED=true" in parent.blocks_json
    ref = store.message("rollout:hunter:phase-2", TRANSPORT, "parent")
    assert ref.ts == parent.payload["ts"]

    await slack.publish(alert("opened", actions=["keep_going"]))
    opened = stub.posts(thread_ts=ref.ts)[-1]
    assert "P0 alert" in opened.text
    assert buttons(opened) == {ACTION_ROLLOUT_ROLLBACK: "phase-2", ACTION_ROLLOUT_KEEP_GOING: "phase-2"}

    await slack.publish(alert("escalated", mention="<!subteam^S0ONCALL>"))
    escalated = stub.posts(thread_ts=ref.ts)[-1]
    assert "<!subteam^S0ONCALL>" in escalated.blocks_json and escalated.payload["reply_broadcast"] is True
    assert ACTION_ROLLOUT_ROLLBACK in buttons(escalated)

    await slack.publish(alert("resolved", level="P0"))
    resolved = stub.posts(thread_ts=ref.ts)[-1]
    assert "All clear" in resolved.text and buttons(resolved) == {}
    closed = stub.latest(opened.payload["ts"])
    assert closed.method == "chat.update" and buttons(closed) == {}  # nothing left to click

    await slack.publish(Announcement(kind="rolled_back", checklist="hunter", phase="phase-1", actor="U0TECH",
                                     previous_phase="phase-2"))
    rollback = stub.posts(thread_ts=ref.ts)[-1]
    assert "rolled back" in rollback.text and rollback.payload["reply_broadcast"] is True
    assert len(stub.posts(top_level=True)) == 1
    stub.assert_clean()


async def test_p1_alert_without_announcement_starts_the_thread_and_has_no_buttons(stub: SlackStub, store) -> None:
    slack = notifier(stub, store)
    await slack.publish(alert("opened", level="P1", incident_id="inc-9", mention="not a <mention>"))
    first = stub.posts(top_level=True)[0]
    assert buttons(first) == {}
    assert store.message("rollout:hunter:phase-2", TRANSPORT, "parent").ts == first.payload["ts"]
    await slack.publish(alert("escalated", level="P1", incident_id="inc-9", mention="<@U0ONCALL> <!channel>"))
    escalated = stub.posts(thread_ts=first.payload["ts"])[0]
    assert "&lt;@U0ONCALL&gt; &lt;!channel&gt;" in escalated.blocks_json  # only a single real mention pings
    stub.assert_clean()


async def test_failures_surface_through_the_fanout(stub: SlackStub, store) -> None:
    stub.error_next("chat.postMessage", "channel_not_found")
    fanout = FanoutNotifier([notifier(stub, store)])
    await fanout.publish(alert("opened"))
    assert fanout.errors and "channel_not_found" in fanout.errors[0]
    await notifier(stub, store, channel=None).publish(alert("opened"))  # no channel: logged, not raised


async def test_rate_limits_and_server_errors_are_retried(stub: SlackStub, store) -> None:
    stub.fail_next("chat.postMessage", status=429)
    stub.fail_next("chat.postMessage", status=503)
    slack = notifier(stub, store)
    started = asyncio.get_running_loop().time()
    await slack.publish(alert("opened"))
    assert [c.method for c in stub.calls] == ["chat.postMessage!429", "chat.postMessage!503", "chat.postMessage"]
    assert asyncio.get_running_loop().time() - started >= 1.0  # Retry-After was honoured
    stub.assert_clean()


async def test_a_running_bot_hands_out_its_notifier(stub: SlackStub, checklist, store) -> None:
    from tests.slack.support import running_bot

    async with running_bot(stub, checklist, store) as bot:
        await bot.bot.deps.notifier().publish(alert("opened"))
    assert stub.posts(top_level=True)[0].payload["channel"] == CHANNEL
    stub.assert_clean()
