"""`golive promote <phase>` / `golive rollback` from Teams. The verbs and handlers come from the rollout
area (`bot.rollout.chat.install`, as `golive serve` wires them); Teams adds nothing of its own: the
RolloutResult renders as a card and the announcement reaches the channel through the notifier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.coordination.locks import RedisLocks, redis_client
from bot.rollout import RolloutRuntime
from bot.rollout.chat import install
from bot.teams.notifier import TeamsNotifier
from tests.conftest import REDIS_URL
from tests.teams.conftest import DEVOPS, OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import CHANNEL, Connector, card_text, cards_of, execute, find_actions, message, pressed, user


@pytest.fixture
async def runtime(client: TeamsClient, connector: Connector, checklist: Any, redis_prefix: str,
                  ) -> AsyncIterator[RolloutRuntime]:
    bot = client.transport.bot
    notifier = TeamsNotifier(bot.proactive, bot.references, channel=CHANNEL, service_url=connector.url)
    runtime = await RolloutRuntime.create(checklist, bot.chatops.store, notifier, prefix=redis_prefix, env={},
                                          locks=RedisLocks(redis_client(REDIS_URL), redis_prefix))
    install(bot.chatops, runtime.service)  # the same wiring `golive serve` does
    yield runtime
    await runtime.close()


async def test_promote_and_rollback_from_teams(client: TeamsClient, connector: Connector,
                                               runtime: RolloutRuntime) -> None:
    url = client.service_url
    [refused] = await client.reply_cards(message("promote phase-1", url, user(TECH_LEAD)))
    assert "⛔ promote phase-1 refused" in card_text(refused)
    assert "- verdict NO-GO: db.connect: has not run" in card_text(refused)
    [denied] = await client.reply_cards(message("promote phase-1", url, user(OUTSIDER)))
    assert "Not allowed" in card_text(denied)

    await client.reply_cards(message("run day1", url, user(OUTSIDER)))
    [card] = await client.reply_cards(message("signoff pre", url, user(OUTSIDER)))
    for role, who in (("tech_lead", TECH_LEAD), ("devops_lead", DEVOPS)):
        approve = next(a for a in find_actions(card) if a["data"]["role"] == role and a["title"] == "Approve")
        await client.post(execute(*pressed(approve), url, user(who)))

    [promoted] = await client.reply_cards(message("promote phase-1", url, user(TECH_LEAD)))
    assert "✅ promoted phase-1" in card_text(promoted) and "APP_PC_ENABLED false" in card_text(promoted)
    [rolled] = await client.reply_cards(message("rollback", url, user(DEVOPS)))
    assert "✅ rolled back phase-1 → none" in card_text(rolled) and await runtime.service.current_phase() is None

    announced = [card_text(cards_of(c.body)) for c in connector.calls if c.method == "POST"]
    assert any("Promoted to phase-1" in t for t in announced) and any("Phase-1 rolled back" in t for t in announced)
