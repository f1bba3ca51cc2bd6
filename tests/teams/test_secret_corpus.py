"""The secret corpus through Teams: `run leaks` (real Activity JSON) against a hostile target whose every
error body and command output is a corpus form; no value reaches a card, a Bot Connector call or the store."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.loader import load_checklist
from checks.spec import Checklist
from tests.secrets_corpus import hostile_target, leaks, leaky_checklist
from tests.teams.conftest import TECH_LEAD, TeamsClient
from tests.teams.support import Connector, message, user


@pytest.fixture
def checklist(tmp_path: Path) -> Iterator[Checklist]:
    with hostile_target() as base_url:
        yield load_checklist(leaky_checklist(tmp_path, base_url, name="teams-test"))


async def test_no_corpus_secret_reaches_teams_the_store_or_the_logs(client: TeamsClient, connector: Connector,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cards = await client.reply_cards(message("run leaks", client.service_url, user(TECH_LEAD, "Tess Lead")))
    await client.transport.bot.drain()
    shown = json.dumps([*cards, *client.seen, *[call.body for call in connector.calls]])
    assert "leak.http" in shown
    assert leaks(shown) == []
    store = client.transport.bot.chatops.store
    [run] = store.runs(checklist="teams-test")
    stored = json.dumps([r.model_dump(mode="json") for r in store.results(run.id)])
    assert "body_excerpt" in stored and leaks(stored) == []
    assert leaks(caplog.text) == []
