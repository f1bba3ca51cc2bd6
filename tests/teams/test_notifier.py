"""Announcements and alerts posted proactively into the configured Teams channel (continue_conversation
against the local Bot Connector), threaded like Slack's; and one rollout shown in both transports."""

from __future__ import annotations

from typing import Any

import pytest

from bot.announcements.events import AlertEvent, Announcement, FanoutNotifier, RecordingNotifier
from bot.coordination.locks import RedisLocks, redis_client
from bot.rollout import RolloutRuntime
from bot.teams.notifier import TeamsChannelUnknown, TeamsNotifier
from tests.conftest import REDIS_URL
from tests.teams.conftest import DEVOPS, OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import CHANNEL, Connector, card_text, cards_of, execute, find_actions, message, pressed, user

SUBJECT = "rollout:teams-test:phase-1"


def teams_notifier(client: TeamsClient, service_url: str | None = None) -> TeamsNotifier:
    bot = client.transport.bot
    return TeamsNotifier(bot.proactive, bot.references, channel=CHANNEL, service_url=service_url)


def alert(state: str, incident: str = "inc-1") -> AlertEvent:
    return AlertEvent(incident, state, "P0", "health.ready", "readiness answered 503", "teams-test", "phase-1",  # type: ignore[arg-type]
                      actions=["rollback", "keep_going"] if state != "resolved" else [])


def posts(connector: Connector) -> list[tuple[str, str]]:
    """(conversation, card text) of every new message, in order; golive's audit-head witnesses (plain
    text, bot.authority.witness) left out."""
    return [(c.conversation, card_text(cards_of(c.body))) for c in connector.calls if c.method == "POST"
            and "golive audit head" not in str((c.body or {}).get("text", ""))]


async def test_a_promotion_opens_a_thread_and_its_alerts_reply_in_it(client: TeamsClient, connector: Connector) -> None:
    notifier = teams_notifier(client, service_url=connector.url)  # configured: the channel never spoke yet
    await notifier.publish(Announcement("promoted", "teams-test", "phase-1", TECH_LEAD))
    await notifier.publish(alert("opened"))
    await notifier.publish(alert("resolved"))
    thread = f"{CHANNEL};messageid=msg-1000"
    assert [(conv, "Promoted to phase-1" in t or "P0 alert" in t or "All clear" in t)
            for conv, t in posts(connector)] == [(CHANNEL, True), (thread, True), (thread, True)]
    assert all(c.activity_id is None for c in connector.calls if c.method == "POST")  # posts, not replies to ids
    [closed] = [c for c in connector.calls if c.method == "PUT"]  # the opened alert loses its buttons
    assert (closed.conversation, closed.activity_id) == (thread, "msg-1001")
    assert "resolved" in card_text(cards_of(closed.body)) and find_actions(cards_of(closed.body)) == []
    store = client.transport.bot.chatops.store
    assert {(m.purpose, m.channel, m.ts) for m in store.messages(SUBJECT) if m.transport == "teams"} == {
        ("parent", CHANNEL, "msg-1000"), ("alert:inc-1", thread, "msg-1001"),
        ("alert:inc-1:resolved", thread, "msg-1002")}


async def test_the_channel_reference_comes_from_the_bot_hearing_from_it(client: TeamsClient,
                                                                       connector: Connector) -> None:
    notifier = teams_notifier(client)
    with pytest.raises(TeamsChannelUnknown, match="has not heard from the Teams channel"):
        await notifier.publish(alert("opened"))
    await client.reply_cards(message("help", connector.url, user(OUTSIDER)))  # someone @mentions the bot there
    await notifier.publish(alert("opened", "inc-2"))  # no announcement yet: the alert starts the thread
    [(conversation, text)] = posts(connector)
    assert conversation == CHANNEL and "P0 alert: health.ready on phase-1" in text
    assert {m.purpose for m in client.transport.bot.chatops.store.messages(SUBJECT)} == {"parent", "alert:inc-2"}


async def test_one_failing_transport_does_not_silence_the_others(client: TeamsClient) -> None:
    recording = RecordingNotifier()
    fanout = FanoutNotifier([teams_notifier(client), recording])
    await fanout.publish(alert("opened"))
    assert len(recording.events) == 1 and "TeamsNotifier" in fanout.errors[0]


async def test_slack_and_teams_show_one_rollout(client: TeamsClient, connector: Connector, checklist: Any,
                                                redis_prefix: str) -> None:
    """Both transports on: a promotion (by a Slack user) is announced in Slack and in the Teams channel,
    its alert reaches both, the rollback button pressed in Teams acts once — and the store holds one
    record of each change."""
    slack_support = pytest.importorskip("tests.slack.support", reason="the Slack transport's test stub is absent")
    from bot.slack.client import build_web_client
    from bot.slack.notifier import SlackNotifier
    from bot.slack.poster import SlackPoster

    store = client.transport.bot.chatops.store
    slack = await slack_support.SlackStub().start()
    locks = RedisLocks(redis_client(REDIS_URL), redis_prefix)
    notifier = FanoutNotifier([
        SlackNotifier(SlackPoster(build_web_client(slack_support.BOT_TOKEN, slack.api_url), store),
                      slack_support.CHANNEL),
        teams_notifier(client, service_url=connector.url)])
    runtime = await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=redis_prefix, env={})
    client.transport.bot.rollout_hook = runtime.service.action_hook
    try:
        # the gate: db.connect green and both sign-offs in, all from Teams
        await client.reply_cards(message("run day1", client.service_url, user(OUTSIDER)))
        [card] = await client.reply_cards(message("signoff pre", client.service_url, user(OUTSIDER)))
        for role, who in (("tech_lead", TECH_LEAD), ("devops_lead", DEVOPS)):
            approve = next(a for a in find_actions(card) if a["data"]["role"] == role and a["title"] == "Approve")
            await client.post(execute(*pressed(approve), client.service_url, user(who)))
        promoted = await runtime.service.promote("phase-1", actor="U0TECHLEAD")
        assert promoted.ok, promoted.reasons
        await notifier.publish(alert("opened"))
        assert notifier.errors == []

        slack_parent = slack.posts(top_level=True)
        assert len(slack_parent) == 1 and "phase-1" in slack_parent[0].text
        assert len(slack.posts(thread_ts=slack_parent[0].payload["ts"])) == 1
        thread = f"{CHANNEL};messageid=msg-1000"
        assert [(conv, ("Promoted to phase-1" in t, "P0 alert" in t)) for conv, t in posts(connector)] == [
            (CHANNEL, (True, False)), (thread, (False, True))]

        # the alert's Roll back button, pressed in Teams: refused for an outsider, done once for a lead
        [alert_call] = [c for c in connector.calls if c.conversation == thread
                        and "golive audit head" not in str((c.body or {}).get("text", ""))]  # not the witness
        rollback = next(a for a in find_actions(cards_of(alert_call.body)) if a["data"]["action"] == "rollback")
        _, refused = await client.post(execute(*pressed(rollback), client.service_url, user(OUTSIDER)))
        assert refused["value"].startswith("Not allowed: only people mapped to a sign-off role")
        _, done = await client.post(execute(*pressed(rollback), client.service_url, user(DEVOPS)))
        assert done["type"] == "application/vnd.microsoft.activity.message"
        assert done["value"].startswith("rolled back phase-1")
        assert await runtime.service.current_phase() is None

        rows = store.db.fetchall("SELECT action, ok, actor FROM rollout_events ORDER BY seq")
        assert [(r["action"], r["ok"], r["actor"]) for r in rows] == [("promote", 1, "U0TECHLEAD"),
                                                                       ("rollback", 1, DEVOPS)]
        assert len(store.audit_log(action="rollout.promoted")) == 1
        assert len(store.audit_log(action="rollout.rolled_back")) == 1
        assert {(m.transport, m.purpose) for m in store.messages(SUBJECT)} >= {
            ("slack", "parent"), ("teams", "parent"), ("slack", "alert:inc-1"), ("teams", "alert:inc-1")}
        # the rollback is announced in both threads
        assert len(slack.posts(thread_ts=slack_parent[0].payload["ts"])) == 2
        assert "Phase-1 rolled back: every rollout flag is off" in posts(connector)[-1][1]
        assert posts(connector)[-1][0] == thread
        slack.assert_clean()
    finally:
        await runtime.close()
        await slack.close()


async def test_the_watch_worker_fans_out_to_teams(settings: Any, store: Any, connector: Connector) -> None:
    """`golive watch` builds its notifier from settings: with TEAMS_CHANNEL set, Teams is one of its targets."""
    from bot.announcements.notifiers import build_notifier

    configured = settings.model_copy(update={"teams_channel": CHANNEL, "teams_service_url": connector.url})
    fanout = build_notifier(configured, store, terminal=False)
    assert [type(n).__name__ for n in fanout.notifiers] == ["TeamsNotifier"]
    await fanout.publish(Announcement("promoted", "teams-test", "phase-1", TECH_LEAD))
    assert fanout.errors == [] and [conv for conv, _ in posts(connector)] == [CHANNEL]


async def test_a_scheduled_run_reports_its_verdict_in_slack_and_teams(client: TeamsClient, connector: Connector,
                                                                      checklist: Any) -> None:
    """The supervisor's on_run publishes the verdict of a run nobody typed to every configured channel."""
    slack_support = pytest.importorskip("tests.slack.support", reason="the Slack transport's test stub is absent")
    from bot.rollout.notify import run_reporter
    from bot.runs.service import execute_run
    from bot.slack.client import build_web_client
    from bot.slack.notifier import SlackNotifier
    from bot.slack.poster import SlackPoster

    store = client.transport.bot.chatops.store
    slack = await slack_support.SlackStub().start()
    try:
        notifier = FanoutNotifier([
            SlackNotifier(SlackPoster(build_web_client(slack_support.BOT_TOKEN, slack.api_url), store),
                          slack_support.CHANNEL),
            teams_notifier(client, service_url=connector.url)])
        outcome = await execute_run(store, checklist, "day3", requested_by="scheduler", source="scheduler")
        await run_reporter(notifier)("day3", outcome)
        assert notifier.errors == []
        [posted] = slack.posts(top_level=True)
        assert "scheduled run of `day3`" in posted.blocks_json and "NO-GO" in posted.text
        [(conversation, text)] = posts(connector)
        assert conversation == CHANNEL and "Scheduled run day3 — NO-GO" in text and "cache.ping" in text
        slack.assert_clean()
    finally:
        await slack.close()
