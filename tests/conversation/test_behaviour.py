"""One behaviour suite, run against Slack, Teams and the in-memory transport alike: what a person sees
must not depend on the transport, because the workflows behind it exist once (bot.conversation)."""

from __future__ import annotations

from bot.announcements.events import AlertEvent, Announcement
from bot.conversation.recovery import recover_interrupted_runs
from bot.conversation.router import EventRouter
from bot.conversation.views import RunProgress
from tests.conversation.harness import Harness


async def test_a_run_shows_progress_then_its_final_state(harness: Harness) -> None:
    await harness.receive("run day1", user=harness.user("rel"), key="run-1")
    [parent] = [m for m in harness.public() if "NO-GO" in m.text]
    assert "day1" in parent.text and len(parent.history) >= 2  # posted while running, then edited
    assert "NO-GO" not in parent.history[0]
    assert "could not be posted" not in parent.text
    [evidence] = harness.in_thread_of(parent)
    assert "cache.down" in evidence.text and "redis.ok" not in evidence.text  # only what needs attention
    assert harness.private(harness.user("rel")) == []


async def test_a_restart_repaints_an_interrupted_run(harness: Harness) -> None:
    """A run a dead process left 'running' (its heartbeat stopped): the sweep marks it interrupted and its
    message says so, once."""
    chatops, conversation = harness.chatops, harness.conversation
    run = chatops.store.create_run(checklist=chatops.checklist.name, selector="day1", requested_by="someone",
                                   source=harness.transport, expected=chatops.checklist.phases[0].checks)
    chatops.store.db.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id",
                             {"id": run.id})  # its owner stopped beating long ago: the process died
    posted = await conversation.post(RunProgress(run, [], 2), channel=harness.channel, subject=run.id)
    assert posted is not None
    assert [r.id for r in await recover_interrupted_runs(chatops, conversation)] == [run.id]
    [message] = [m for m in harness.public() if m.id == posted.ts]
    assert "interrupted" in message.text.lower() and "day1" in message.text
    assert chatops.store.get_run(run.id).status == "interrupted"
    assert await recover_interrupted_runs(chatops, conversation) == []  # repainted once only
    assert len(next(m for m in harness.public() if m.id == posted.ts).history) == 2


async def test_an_announcement_and_its_alerts_share_one_thread(harness: Harness) -> None:
    router = EventRouter(harness.conversation, harness.channel)
    checklist = harness.chatops.checklist.name
    await router.publish(Announcement("promoted", checklist, "phase-1", "U0REL", flags={"PC": "on"}))
    opened = AlertEvent("inc-1", "opened", "P0", "health.ready", "3 failed probes", checklist, "phase-1",
                        actions=["rollback", "keep_going"])
    await router.publish(opened)
    await router.publish(AlertEvent("inc-1", "resolved", "P0", "health.ready", "healthy again", checklist,
                                    "phase-1"))
    await router.publish(AlertEvent("inc-2", "opened", "P1", "latency.p95", "p95 2400 ms > 2000 ms", checklist,
                                    "phase-1", actions=["rollback", "keep_going"]))
    await router.publish(Announcement("rolled_back", checklist, "none", "U0REL", previous_phase="phase-1"))
    announcement, *replies = harness.public()
    assert announcement.thread is None and "phase-1" in announcement.text
    assert len(replies) == 4 and all(r.thread == announcement.id for r in replies)  # one thread
    first_alert, _, second_alert, rollback = replies
    assert "inc-1" in first_alert.history[0] or "health.ready" in first_alert.history[0]
    assert first_alert.buttons == 0  # resolved: its buttons are gone
    assert second_alert.buttons == 0 and len(second_alert.history) == 2  # rolled back: made obsolete
    assert "roll" in rollback.text.lower()


async def test_a_redelivered_request_is_ignored(harness: Harness) -> None:
    user = harness.user("rel")
    await harness.receive("status", user=user, key="status-1")
    said = len(harness.public()) + len(harness.private(user))
    assert said == 1
    await harness.receive("status", user=user, key="status-1")  # the service sends it again
    assert len(harness.public()) + len(harness.private(user)) == said


async def test_a_refusal_is_private(harness: Harness) -> None:
    asker, other = harness.user("rel"), harness.user("other")
    await harness.receive("run day9", user=asker, key="run-9")
    [refusal] = harness.private(asker)
    assert "day9" in refusal and "day1" in refusal  # what it is not, and what there is
    assert "day9'" not in refusal and "golive checks" not in refusal  # no stray quote, no terminal command
    assert harness.public() == [] and harness.private(other) == []
