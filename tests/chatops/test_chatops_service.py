"""ChatOps without any transport: what Slack and Teams both get back, as plain data."""

from __future__ import annotations

import asyncio

import pytest

from bot.chatops.actor import Actor
from bot.chatops.commands import parse_command
from bot.chatops.directory import StaticDirectory
from bot.chatops.replies import Denied, Failed, HelpReply, HistoryReply, RunBusy, SignoffDecided, SignoffOpened
from bot.chatops.service import ChatOps, RunHooks
from bot.runs.service import RunOutcome
from bot.runs.status import StatusOverview
from bot.store import open_store
from tests.conftest import PG_URL

TEAMS_USER = Actor("29:1aad-user", "teams")


def chatops(store, checklist) -> ChatOps:  # type: ignore[no-untyped-def]
    return ChatOps(store, checklist, directories={"slack": StaticDirectory({"S0DEVOPS": {"U0DEVOPS"}})})


async def test_execute_returns_plain_data(store, checklist) -> None:
    ops = chatops(store, checklist)
    actor = Actor("U0RELEASE", "slack")
    assert isinstance(await ops.execute(parse_command("help"), actor), HelpReply)
    assert isinstance(await ops.execute(parse_command("bogus"), actor), HelpReply)
    outcome = await ops.execute(parse_command("run day2"), actor)
    assert isinstance(outcome, RunOutcome) and outcome.report.verdict.go
    assert outcome.run.source == "slack" and outcome.run.requested_by == "U0RELEASE"
    status = await ops.execute(parse_command("status"), actor)
    assert isinstance(status, StatusOverview) and status.checklist == "slacktest"
    history = await ops.execute(parse_command("history"), actor)
    assert isinstance(history, HistoryReply) and [r.selector for r in history.runs] == ["day2"]
    assert isinstance(await ops.execute(parse_command("run nope"), actor), Failed)
    assert isinstance(await ops.execute(parse_command("signoff during"), actor), Failed)


async def test_second_run_of_the_same_selector_is_busy(store, checklist, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SLOW_SECONDS", "1")
    ops = chatops(store, checklist)
    started = asyncio.Event()

    async def created(run) -> None:  # type: ignore[no-untyped-def]
        started.set()

    first = asyncio.create_task(ops.run(Actor("U1", "slack"), "day1", RunHooks(on_created=created)))
    await started.wait()
    busy = await ops.run(TEAMS_USER, "day1")  # another transport, same lock
    assert isinstance(busy, RunBusy) and busy.running is not None and busy.running.requested_by == "U1"
    other = await ops.run(TEAMS_USER, "day2")  # another selector is fine
    assert isinstance(other, RunOutcome)
    assert isinstance(await first, RunOutcome)
    assert isinstance(await ops.run(TEAMS_USER, "day1"), RunOutcome)  # free again afterwards


async def test_reap_only_runs_whose_owner_heartbeat_expired(store, checklist) -> None:
    """Any source (the CLI included) is reaped once its heartbeat expired; a live run is never reaped,
    even when nobody holds its lock here (another replica, or this one degraded to local locks)."""
    ops = chatops(store, checklist)
    orphan = store.create_run(checklist="slacktest", selector="day1", source="teams")
    cli_orphan = store.create_run(checklist="slacktest", selector="day1", source="cli")
    live = store.create_run(checklist="slacktest", selector="day2", source="slack")  # no lock held anywhere
    for dead in (orphan.id, cli_orphan.id):
        store.db.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id", {"id": dead})
    reaped = await ops.reap_orphaned_runs()
    assert sorted(r.id for r in reaped) == sorted([orphan.id, cli_orphan.id])
    assert [store.get_run(r).status for r in (orphan.id, cli_orphan.id, live.id)] == \
        ["interrupted", "interrupted", "running"]
    assert await ops.reap_orphaned_runs() == []  # reported once


async def signoff_flow(store, checklist) -> None:  # type: ignore[no-untyped-def]
    ops = chatops(store, checklist)
    opened = await ops.open_signoff(Actor("U0REQ", "slack"), "pre")
    assert isinstance(opened, SignoffOpened) and opened.stage.roles[0].id == "tech_lead"
    rid = opened.request.id

    def approve_in_thread() -> object:
        return asyncio.run(ops.decide_signoff(Actor("U0TECH", "slack"), rid, "tech_lead", "approve"))

    # 20 concurrent decisions from different threads/loops: exactly one is recorded
    results = await asyncio.gather(*(asyncio.to_thread(approve_in_thread) for _ in range(20)))
    assert sum(1 for r in results if isinstance(r, SignoffDecided) and r.recorded) == 1
    assert len(store.audit_log(subject=rid, action="signoff.approve")) == 1

    stranger = await ops.decide_signoff(TEAMS_USER, rid, "product_owner", "approve")
    assert isinstance(stranger, Denied)
    no_reason = await ops.decide_signoff(Actor("U0PO", "slack"), rid, "product_owner", "reject", reason=" ")
    assert isinstance(no_reason, Failed)
    rejected = await ops.decide_signoff(Actor("U0PO", "slack"), rid, "product_owner", "reject", reason="not yet")
    assert isinstance(rejected, SignoffDecided) and rejected.request.decisions["product_owner"].reason == "not yet"
    status = await ops.status(Actor("U0X", "slack"))
    assert not status.verdict.go and "DevOps Lead (pre)" in status.missing_signoffs
    withdrawn = await ops.decide_signoff(Actor("U0PO", "slack"), rid, "product_owner", "withdraw")
    assert isinstance(withdrawn, SignoffDecided) and withdrawn.recorded
    assert "product_owner" not in withdrawn.request.decisions


async def test_signoff_flow_on_sqlite(store, checklist) -> None:
    await signoff_flow(store, checklist)


async def test_signoff_flow_on_postgres(checklist, pg_schema: str) -> None:
    store = open_store(PG_URL, schema=pg_schema)
    try:
        await signoff_flow(store, checklist)
    finally:
        store.close()


async def test_promote_without_a_rollout_plan_says_how_to_add_one(store, checklist) -> None:
    reply = await chatops(store, checklist).execute(parse_command("promote phase-2"), Actor("U0RELEASE", "slack"))
    assert isinstance(reply, Failed) and "no `rollout:` section" in reply.message
