"""After a crash: runs a dead process left 'running' are marked interrupted, and their parent message
is repainted to say so, with a Re-run button. Runs on start-up and then periodically, because with
Redis a dead holder's lock only expires after its TTL."""

from __future__ import annotations

import asyncio
import logging

from bot.slack.deps import SlackDeps
from bot.slack.ids import TRANSPORT
from bot.slack.run_presenter import FINAL_KEY, show_final
from bot.slack.views.run import run_interrupted
from bot.store import RunRecord

log = logging.getLogger("golive.slack")


async def recover_interrupted_runs(deps: SlackDeps, *, limit: int = 50) -> list[RunRecord]:
    """Reap orphaned runs, then repaint every interrupted Slack run whose parent is not final yet."""
    await deps.chatops.reap_orphaned_runs()
    store = deps.store
    runs = await asyncio.to_thread(store.runs, status="interrupted", checklist=deps.chatops.checklist.name,
                                   limit=limit)
    repainted = []
    for run in runs:
        if run.source != TRANSPORT or await asyncio.to_thread(store.get, FINAL_KEY.format(run_id=run.id)):
            continue
        parent = await deps.poster.find(run.id, "parent")
        if parent is None:
            continue
        results = await asyncio.to_thread(store.results, run.id)
        if await show_final(deps, parent, run_interrupted(run, results, len(run.expected)), run.id):
            repainted.append(run)
    if repainted:
        log.info("marked %d interrupted run(s) in Slack", len(repainted))
    return repainted
