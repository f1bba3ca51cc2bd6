"""`golive promote <phase>` / `golive rollback` from Teams. Such verbs join the shared parser and ChatOps
through `register_verb` / `register_handler` (the rollout area's to wire; this test wires them the same
way, over the real RolloutService); Teams adds nothing of its own: the RolloutResult renders as a card and
the announcement reaches the channel through the notifier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.access import Action
from bot.chatops.actor import Actor
from bot.chatops.commands import VERBS, Command, HelpCommand, Verb, register_verb
from bot.chatops.replies import Denied, Reply
from bot.chatops.service import RunHooks
from bot.locks import RedisLocks, redis_client
from bot.rollout import RolloutRuntime
from bot.teams.notifier import TeamsNotifier
from tests.conftest import REDIS_URL
from tests.teams.conftest import DEVOPS, OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import CHANNEL, Connector, card_text, cards_of, execute, find_actions, message, pressed, user


@dataclass(frozen=True)
class Promote(Command):
    phase: str


@dataclass(frozen=True)
class Rollback(Command):
    pass


@pytest.fixture
def rollout_verbs() -> Iterator[None]:
    """promote/rollback registered the way the rollout area does it (its own, if any, put back after)."""
    saved = {name: VERBS[name] for name in ("promote", "rollback") if name in VERBS}
    register_verb(Verb("promote", "<phase>", "flip the phase's flags if the gate holds",
                       lambda a: Promote(a[0]) if len(a) == 1 else HelpCommand(problem="promote <phase>")))
    register_verb(Verb("rollback", "", "turn the current phase's flags back", lambda a: Rollback()))
    yield
    for name in ("promote", "rollback"):
        VERBS.pop(name, None)
    VERBS.update(saved)


@pytest.fixture
async def runtime(client: TeamsClient, connector: Connector, checklist: Any, redis_prefix: str,
                  rollout_verbs: None) -> AsyncIterator[RolloutRuntime]:
    bot = client.transport.bot
    notifier = TeamsNotifier(bot.proactive, bot.references, channel=CHANNEL, service_url=connector.url)
    runtime = await RolloutRuntime.create(checklist, bot.chatops.store, notifier, prefix=redis_prefix, env={},
                                          locks=RedisLocks(redis_client(REDIS_URL), redis_prefix))
    chatops = bot.chatops

    async def guarded(actor: Actor, action: Action, change: Any) -> Reply:
        decision = await chatops.allowed(actor, action)
        return await change() if decision.allowed else Denied(str(action), decision.reason)

    async def promote(command: Promote, actor: Actor, hooks: RunHooks) -> Reply:
        return await guarded(actor, Action.ROLLOUT_PROMOTE,
                             lambda: runtime.service.promote(command.phase, actor=actor.user_id))

    async def rollback(command: Rollback, actor: Actor, hooks: RunHooks) -> Reply:
        return await guarded(actor, Action.ROLLOUT_ROLLBACK,
                             lambda: runtime.service.rollback(actor=actor.user_id, reason="from Teams"))

    chatops.register_handler(Promote, promote)  # type: ignore[arg-type]
    chatops.register_handler(Rollback, rollback)  # type: ignore[arg-type]
    yield runtime
    await runtime.close()


async def test_promote_and_rollback_from_teams(client: TeamsClient, connector: Connector,
                                               runtime: RolloutRuntime) -> None:
    url = client.service_url
    [refused] = await client.reply_cards(message("promote phase-1", url, user(TECH_LEAD)))
    assert "⛔ promote phase-1 refused" in card_text(refused)
    assert "- required check db.connect has not run" in card_text(refused)
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
    assert any("Promoted to phase-1" in t for t in announced) and any("Rolled back phase-1" in t for t in announced)
