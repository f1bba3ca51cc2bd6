"""Every card the Teams transport can send validates against the official Adaptive Card 1.5 schema (the
top-level `msteams` key aside), declares version 1.5, stays under Teams' message size, and never shows
a secret."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.announcements.events import AlertEvent, Announcement
from bot.chatops.actor import Actor
from bot.chatops.commands import HelpCommand
from bot.chatops.replies import Denied, Failed, HistoryReply, Notice, RunBusy, SignoffDecided, SignoffOpened
from bot.chatops.service import ChatOps
from bot.rollout.models import RolloutResult
from bot.runs.service import RunOutcome
from bot.runs.status import build_status
from bot.teams import cards
from bot.teams.event_cards import alert_closed_card, render_event
from checks.masking import masker
from checks.result import CheckResult, Criticality, Status, utcnow
from tests.teams.conftest import DEVOPS, OUTSIDER, TECH_LEAD
from tests.teams.support import assert_valid_card, card_text, card_validator, find_actions

TEAMS_MAX_BYTES = 28_000


def check(card: dict[str, Any]) -> str:
    assert_valid_card(card)
    assert len(json.dumps(card).encode()) < TEAMS_MAX_BYTES
    return card_text(card)


async def reply_cards(chatops: ChatOps) -> list[dict[str, Any]]:
    """A card for each kind of ChatOps reply, from real replies where the engine can make them."""
    lead, outsider = Actor(TECH_LEAD, "teams"), Actor(OUTSIDER, "teams")
    go = await chatops.run(outsider, "day1")  # the requester of a run may not sign off on it
    no_go = await chatops.run(outsider, "day3")
    assert isinstance(go, RunOutcome) and isinstance(no_go, RunOutcome)
    opened = await chatops.open_signoff(outsider, "pre")
    assert isinstance(opened, SignoffOpened)
    approved = await chatops.decide_signoff(lead, opened.request.id, "tech_lead", "approve")
    rejected = await chatops.decide_signoff(Actor(DEVOPS, "teams"), opened.request.id, "devops_lead", "reject",
                                            "backup not verified")
    again = await chatops.decide_signoff(lead, opened.request.id, "tech_lead", "approve")
    assert isinstance(approved, SignoffDecided) and isinstance(rejected, SignoffDecided)
    assert isinstance(again, SignoffDecided) and not again.recorded
    denied = await chatops.decide_signoff(outsider, opened.request.id, "tech_lead", "withdraw")
    assert isinstance(denied, Denied)
    return [cards.render(r) for r in (
        go, no_go, opened, approved, rejected, again, denied, build_status(chatops.store, chatops.checklist),
        replace(build_status(chatops.store, chatops.checklist), warnings=["Redis is unreachable: locks are local"]),
        await chatops.help(HelpCommand()), await chatops.help(HelpCommand(unknown="deploy", problem="no such verb")),
        HistoryReply("teams-test", chatops.store.runs(checklist="teams-test")), HistoryReply("teams-test"),
        RunBusy("day1", go.run), RunBusy("day1"), Failed("unknown phase day9"), Notice("rollback requested"),
        RolloutResult(True, "promote", "phase-2", "phase-1", flags={"APP_PC_ENABLED": "true"}, message="done"),
        RolloutResult(False, "promote", "phase-3", reasons=["sign-off missing: Tech Lead (pre)"]),
        object())]


def event_cards() -> list[dict[str, Any]]:
    now = utcnow()
    announcements = [Announcement(kind, "shop", "phase-2", TECH_LEAD, flags={"APP_PC_ENABLED": "true"},
                                  reasons=["p95 latency 2430 ms > 2000 ms"] if kind != "promoted" else [],
                                  previous_phase="phase-2" if kind == "rolled_back" else "phase-1")
                     for kind in ("promoted", "rolled_back", "refused", "paused", "resumed")]
    alerts = [AlertEvent("inc-1", state, level, "latency_p95", "p95 latency 2430 ms > 2000 ms", "shop", "phase-2",
                         value=2430, threshold=2000, mention=mention, actions=["rollback", "keep_going"],
                         at=now + timedelta(seconds=i))
              for i, (state, level, mention) in enumerate([("opened", "P0", None), ("escalated", "P1", "<!here>"),
                                                           ("escalated", "P0", DEVOPS), ("resolved", "P0", None)])]
    return [*(render_event(e) for e in [*announcements, *alerts]), alert_closed_card(alerts[-1]), render_event("odd")]


async def test_every_reply_card_validates(chatops: ChatOps) -> None:
    card_validator()  # fails, saying why, when the schema file is absent
    texts = [check(card) for card in await reply_cards(chatops)]
    assert any("Run day1 — GO" in t for t in texts) and any("Run day3 — NO-GO" in t for t in texts)
    assert any("rejected by" in t and "backup not verified" in t for t in texts)
    assert any("⚠️ Redis is unreachable" in t for t in texts)


def test_every_event_card_validates() -> None:
    card_validator()
    texts = [check(card) for card in event_cards()]
    assert any("Promoted to phase-2" in t for t in texts) and any("All clear" in t for t in texts)


def test_progress_and_start_cards_validate(chatops: ChatOps) -> None:
    run = chatops.store.create_run(checklist="teams-test", selector="day1", requested_by=TECH_LEAD, source="teams")
    result = CheckResult(check_id="db.connect", kind="postgres.query", criticality=Criticality.CRITICAL,
                         status=Status.FAIL, summary="cannot connect " + "x" * 5000, evidence={"sqlstate": "08001"})
    check(cards.run_started_card("day1", TECH_LEAD))
    text = check(cards.run_progress_card(run, [result] * 40, 50))
    assert "40/50 checks finished" in text and "… and 28 more problems" in text


def test_alert_buttons_are_rollback_and_keep_going() -> None:
    alert = AlertEvent("inc-9", "opened", "P0", "health", "readiness 503", "shop", "phase-2",
                       actions=["rollback", "keep_going"])
    actions = find_actions(render_event(alert))
    assert [(a["title"], a["verb"], a["data"]) for a in actions] == [
        ("Roll back", "golive.rollout", {"action": "rollback", "phase": "phase-2"}),
        ("Keep going", "golive.rollout", {"action": "keep_going", "phase": "phase-2"})]
    assert find_actions(render_event(AlertEvent("inc-9", "resolved", "P0", "health", "ok", "shop", "phase-2"))) == []


def test_cards_never_show_a_secret() -> None:
    masker.add("Sup3r-Secret-Pw")
    card = cards.render(Failed("cannot connect to postgresql://app:Sup3r-Secret-Pw@db/app"))
    assert "Sup3r-Secret-Pw" not in json.dumps(card)


def test_the_schema_check_catches_a_broken_card() -> None:
    card_validator()
    broken = cards.render(Notice("hello"))
    broken["body"][0]["colour"] = "red"
    with pytest.raises(pytest.fail.Exception, match=r"fails the Adaptive Card 1\.5 schema"):
        assert_valid_card(broken)


def test_a_runs_card_and_the_status_card_name_what_the_checks_wrote_and_their_cleanup() -> None:
    """A real run of a writing check (smoke.scan on the demo service): the Teams run card and status card,
    valid against the Adaptive Card 1.5 schema, list what it wrote and that its cleanup ran."""
    from bot.chatops.replies import WRITES_TITLE
    from bot.runs.status import StatusOverview
    from bot.store import RunRecord
    from checks.verdict import SignoffState
    from tests.chatops.writes_run import CLEANED, WROTE, writing_run

    report = writing_run()
    record = RunRecord(id="run1", checklist="t", selector="day3", requested_by="U1", source="teams",
                       status="finished", started_at=utcnow(), finished_at=utcnow(), verdict=report.verdict,
                       wall_ms=report.wall_ms)
    overview = StatusOverview(checklist="t", phases=[], verdict=report.verdict, signoffs=SignoffState(),
                              missing_signoffs=[], rollout_phase=None)
    for card in (cards.render(RunOutcome(run=record, report=report)), cards.render(overview)):
        shown = check(card)
        assert WRITES_TITLE in shown and WROTE in shown and CLEANED in shown
