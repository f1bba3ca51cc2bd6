"""Action.Execute clicks edit the shared message for everyone (a connector update of the card the click came
from) as well as answering the clicker with the invoke response; a refused click edits nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.teams.ids import VERB_CONFIRM, VERB_SIGNOFF
from checks.loader import load_checklist
from checks.spec import Checklist
from tests import manual_kind
from tests.teams.conftest import OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import (
    CARD_TYPE,
    MESSAGE_TYPE,
    Connector,
    card_text,
    cards_of,
    execute,
    find_actions,
    message,
    pressed,
    user,
)

CHECKLIST = f"""
name: teams-edit
phases:
  - id: day1
    checks:
      - {{id: sentry.test_event, kind: {manual_kind.KIND}, criticality: critical}}
signoffs:
  pre:
    title: Before deploy
    roles:
      - {{id: tech_lead, title: Tech Lead, members: [{TECH_LEAD}]}}
"""


@pytest.fixture
def checklist(tmp_path: Path) -> Checklist:
    path = tmp_path / "edit.yml"
    path.write_text(CHECKLIST)
    return load_checklist(path)


async def posted_card(client: TeamsClient, connector: Connector, text: str,
                      sender: str = OUTSIDER) -> tuple[str, dict]:
    """Say `text` the normal way (no expectReplies): the bot posts its card through the connector."""
    status, _ = await client.post(message(text, client.service_url, user(sender, sender)))
    assert status in (200, 202)
    await client.transport.bot.drain()
    post = next(c for c in connector.calls if c.method == "POST")  # the card (evidence replies follow it)
    card_id = "msg-1000"  # the stand-in numbers the messages it is sent from 1000; this is the first
    updates = [c.body for c in connector.calls if c.method == "PUT" and c.activity_id == card_id]
    return card_id, cards_of(updates[-1] if updates else post.body)[0]


def puts(connector: Connector, activity_id: str) -> list[dict]:
    return [card for c in connector.calls if c.method == "PUT" and c.activity_id == activity_id
            for card in cards_of(c.body)]


async def test_a_sign_off_click_edits_the_card_for_everyone(client: TeamsClient, connector: Connector) -> None:
    card_id, card = await posted_card(client, connector, "signoff pre")
    [approve] = [a for a in find_actions(card) if a["verb"] == VERB_SIGNOFF and a["data"]["decision"] == "approve"]
    verb, data = pressed(approve)
    before = len(connector.calls)

    status, body = await client.post(execute(verb, data, client.service_url, user(TECH_LEAD, "Tess"),
                                             reply_to=card_id))

    assert status == 200 and body["type"] == CARD_TYPE, body
    assert "approved by Tess" in card_text(body["value"])
    [shared] = puts(connector, card_id)
    assert shared == body["value"]  # everyone sees what the clicker sees
    assert len(connector.calls) == before + 1


async def test_a_refused_click_edits_nothing(client: TeamsClient, connector: Connector) -> None:
    card_id, card = await posted_card(client, connector, "signoff pre")
    verb, data = pressed(next(a for a in find_actions(card) if a["verb"] == VERB_SIGNOFF))
    before = list(connector.calls)

    status, body = await client.post(execute(verb, data, client.service_url, user(OUTSIDER, "Otto"),
                                             reply_to=card_id))

    assert status == 200 and body["type"] == MESSAGE_TYPE and body["value"].startswith("Not allowed")
    assert connector.calls == before


async def test_a_confirm_click_edits_the_run_card_for_everyone(client: TeamsClient, connector: Connector) -> None:
    card_id, card = await posted_card(client, connector, "run day1", TECH_LEAD)
    assert "NO-GO" in card_text(card)
    [confirm] = [a for a in find_actions(card) if a["verb"] == VERB_CONFIRM]
    verb, data = pressed(confirm)
    edits_before = len(puts(connector, card_id))

    status, body = await client.post(execute(verb, data, client.service_url, user(TECH_LEAD, "Tess"),
                                             reply_to=card_id))

    assert status == 200 and body["type"] == CARD_TYPE and "Run day1 — GO" in card_text(body["value"])
    shared = puts(connector, card_id)[edits_before:]
    assert shared == [body["value"]]
    assert not [a for a in find_actions(shared[0]) if a["verb"] == VERB_CONFIRM]
