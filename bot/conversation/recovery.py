"""After a crash: runs a dead process left 'running' are marked interrupted (ChatOps decides which), and
their parent message is repainted to say so, with a Re-run button. One sweep for every transport; it
runs at start-up and then periodically, because with Redis a dead holder's lock only expires after its TTL."""

from __future__ import annotations

import asyncio
import logging

from bot.chatops.service import ChatOps
from bot.conversation.base import Conversation
from bot.conversation.follower import is_final, show_final
from bot.conversation.views import RunInterrupted
from bot.services.desk import Desk
from bot.store import RunRecord

log = logging.getLogger("golive.conversation")

PARENT_PURPOSES = ("parent", "run-card")
"""Where a run's message is remembered ("run-card": Teams, before this layer existed)."""


async def recover_interrupted_runs(chatops: ChatOps, conversation: Conversation, *,
                                   limit: int = 50) -> list[RunRecord]:
    """Reap orphaned runs, then repaint every interrupted run of this transport whose parent is not final."""
    await chatops.reap_orphaned_runs()
    store = chatops.store
    runs = await asyncio.to_thread(store.runs, status="interrupted", checklist=chatops.checklist.name, limit=limit)
    repainted = []
    for run in runs:
        if run.source != conversation.transport or await is_final(conversation, run.id):
            continue
        parent = None
        for purpose in PARENT_PURPOSES:
            if (parent := await conversation.find(run.id, purpose)) is not None:
                break
        if parent is None:
            continue
        results = await asyncio.to_thread(store.results, run.id)
        if await show_final(conversation, parent, RunInterrupted(run, results, len(run.expected)), run.id):
            repainted.append(run)
    if repainted:
        log.info("%s: marked %d interrupted run(s)", conversation.transport, len(repainted))
    return repainted


async def recover_every_service(desk: Desk, conversation: Conversation, *, limit: int = 50) -> list[RunRecord]:
    """The sweep for each service the bot serves, with the service named so a Re-run button goes back to it."""
    repainted: list[RunRecord] = []
    for service, ops in desk.each():
        with desk.serving(service):
            repainted += await recover_interrupted_runs(ops, conversation, limit=limit)
    return repainted
