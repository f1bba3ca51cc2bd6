"""`pause [reason]` from chat holds the rollout the way a P0 does (the same pause state): promotions are refused
until `resume`, and the pause is access-checked, audited and announced like resume."""

from __future__ import annotations

from collections.abc import Callable

from bot.announcements.events import Announcement, RecordingNotifier
from bot.chatops.actor import Actor
from bot.chatops.commands import action_of, parse_command
from bot.chatops.replies import Denied, Failed
from bot.chatops.service import ChatOps
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout.chat import install
from bot.rollout.models import RolloutResult
from bot.rollout.records import RolloutRecords
from bot.runs.service import execute_run
from bot.store import Store
from checks.spec import Checklist
from tests.rollout.test_promote import announced, make_runtime, sign


async def test_pause_holds_promotions_until_resume_audited_and_announced(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    notifier = RecordingNotifier()
    runtime = await make_runtime(checklist, store, locks, notifier)
    ops = ChatOps(store, checklist, locks=locks)
    install(ops, runtime.service)
    tech, stranger = Actor("U0TECH", "slack"), Actor("U0STRANGER", "teams")
    records = RolloutRecords(store, checklist.name)

    assert action_of(parse_command("pause")) == "rollout.pause"
    nothing = await ops.execute(parse_command("pause"), tech)
    assert isinstance(nothing, RolloutResult) and not nothing.ok and "no rollout phase is active" in nothing.message
    assert records.paused() is None

    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    assert (await runtime.service.promote("phase-1", actor="U0TECH")).ok

    refused = await ops.execute(parse_command("pause let me look"), stranger)
    assert isinstance(refused, Denied) and refused.action == "rollout.pause"
    assert store.audit_log(action="access.denied", limit=1)[0]["detail"]["action"] == "rollout.pause"
    assert records.paused() is None

    paused = await ops.execute(parse_command("pause error budget burning"), tech)
    assert isinstance(paused, RolloutResult) and paused.ok, paused
    assert "phase-1" in paused.message and "resume" in paused.message
    held = records.paused()
    assert held is not None and held["phase"] == "phase-1" and "error budget burning" in held["reason"]
    audit = store.audit_log(action="rollout.paused", limit=1)[0]
    assert audit["actor"] == "U0TECH" and "error budget burning" in audit["detail"]["reason"]
    assert ("paused", "phase-1") in announced(notifier)
    pause_event = next(e for e in notifier.events if isinstance(e, Announcement) and e.kind == "paused")
    assert pause_event.actor == "U0TECH" and any("error budget burning" in r for r in pause_event.reasons)

    again = await ops.execute(parse_command("pause"), tech)
    assert isinstance(again, RolloutResult) and "already paused" in again.message
    assert [k for k, _ in announced(notifier)].count("paused") == 1, "a second pause announces nothing"

    blocked = await runtime.service.promote("phase-2", actor="U0TECH")
    assert not blocked.ok and any("paused" in r for r in blocked.reasons), blocked.reasons

    resumed = await ops.execute(parse_command("resume"), tech)
    assert isinstance(resumed, RolloutResult) and resumed.ok and records.paused() is None
    assert ("resumed", "phase-1") in announced(notifier)
    await runtime.close()


async def test_pause_before_the_rollout_service_is_installed_says_so(
        write_checklist: Callable[..., Checklist], store: Store, target: DemoServer) -> None:
    reply = await ChatOps(store, write_checklist(target.base_url)).execute(parse_command("pause"),
                                                                           Actor("U0TECH", "slack"))
    assert isinstance(reply, Failed) and "`rollout:`" in reply.message
