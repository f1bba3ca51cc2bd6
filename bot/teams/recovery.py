"""After a crash: a Teams run card a dead process left at "Running …" is repainted to say the run was
interrupted. Runs at start-up and then periodically (with Redis a dead holder's lock only expires after
its TTL), like Slack's sweeper; ChatOps decides which runs are orphaned, this only repaints."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.store import RunRecord
from bot.teams import cards
from bot.teams.ids import TRANSPORT
from checks.masking import mask

if TYPE_CHECKING:
    from bot.teams.receive import TeamsBot

log = logging.getLogger("golive.teams")

RUN_CARD = "run-card"
FINAL_KEY = "teams:run:{run_id}:final"


def remember_run_card(bot: TeamsBot, run: RunRecord, conversation: str, card_id: str) -> None:
    """Where a run's live card is, so a later process can repaint it."""
    bot.chatops.store.remember_message(subject=run.id, transport=TRANSPORT, purpose=RUN_CARD,
                                       channel=conversation, ts=card_id)


def mark_final(bot: TeamsBot, run_id: str) -> None:
    bot.chatops.store.put(FINAL_KEY.format(run_id=run_id), True)


async def recover_interrupted_runs(bot: TeamsBot, *, limit: int = 50) -> list[RunRecord]:
    """Reap orphaned runs, then repaint every interrupted Teams run whose card is not final yet."""
    chatops, store = bot.chatops, bot.chatops.store
    await chatops.reap_orphaned_runs()
    runs = await asyncio.to_thread(store.runs, status="interrupted", checklist=chatops.checklist.name, limit=limit)
    repainted = []
    for run in runs:
        if run.source != TRANSPORT or await asyncio.to_thread(store.get, FINAL_KEY.format(run_id=run.id)):
            continue
        message = await asyncio.to_thread(store.message, run.id, TRANSPORT, RUN_CARD)
        reference = await asyncio.to_thread(bot.references.reference, message.channel) if message else None
        if message is None or reference is None:
            continue
        reference.conversation.id = message.channel
        results = await asyncio.to_thread(store.results, run.id)
        card = await asyncio.to_thread(cards.run_interrupted_card, run, results, bot.references.name)
        try:
            await bot.proactive.update(reference, message.ts, card)
        except Exception as exc:
            log.warning("could not repaint the interrupted run %s in Teams: %s", run.id, mask(str(exc)))
            continue
        await asyncio.to_thread(mark_final, bot, run.id)
        repainted.append(run)
    if repainted:
        log.info("marked %d interrupted run(s) in Teams", len(repainted))
    return repainted
