"""The Confirm button on a Teams run card: a check only a person can judge (the Sentry event without an
API token) is confirmed once through Action.Execute, by a role member only, and the card shows the new verdict."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.teams.ids import VERB_CONFIRM
from checks.loader import load_checklist
from checks.spec import Checklist
from tests import manual_kind
from tests.teams.conftest import OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import CARD_TYPE, MESSAGE_TYPE, card_text, execute, find_actions, message, pressed, user

CHECKLIST = f"""
name: teams-confirm
phases:
  - id: day1
    checks:
      - {{id: sentry.test_event, kind: {manual_kind.KIND}, criticality: critical}}
signoffs:
  pre:
    roles:
      - {{id: tech_lead, title: Tech Lead, members: [{TECH_LEAD}]}}
"""


@pytest.fixture
def checklist(tmp_path: Path) -> Checklist:
    path = tmp_path / "confirm.yml"
    path.write_text(CHECKLIST)
    return load_checklist(path)


async def test_confirm_from_teams_records_once_and_turns_the_verdict(client: TeamsClient) -> None:
    [card] = await client.reply_cards(message("run day1", client.service_url, user(TECH_LEAD)))
    assert "Run day1 — NO-GO" in card_text(card)
    [confirm] = [a for a in find_actions(card) if a["verb"] == VERB_CONFIRM]
    verb, data = pressed(confirm)

    status, body = await client.post(execute(verb, data, client.service_url, user(OUTSIDER, "Otto")))
    assert status == 200 and body["type"] == MESSAGE_TYPE and body["value"].startswith("Not allowed")

    answers = await asyncio.gather(*(client.post(execute(verb, data, client.service_url, user(TECH_LEAD, "Tess")))
                                     for _ in range(3)))
    cards = [b["value"] for _, b in answers if b.get("type") == CARD_TYPE]
    assert cards and all("Run day1 — GO" in card_text(c) for c in cards)
    store = client.transport.bot.chatops.store
    assert len(store.audit_log(action="check.confirmed")) == 1
    [run] = store.runs(checklist="teams-confirm")
    assert run.verdict is not None and run.verdict.go
