"""After a crash, Teams' run cards are repainted by the shared recovery sweep (bot.conversation.recovery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation.recovery import recover_interrupted_runs as sweep
from bot.store import RunRecord
from bot.teams.ids import TRANSPORT

if TYPE_CHECKING:
    from bot.teams.receive import TeamsBot


def remember_run_card(bot: TeamsBot, run: RunRecord, conversation: str, card_id: str) -> None:
    """Where a run's live card is, so a later process can repaint it."""
    bot.chatops.store.remember_message(subject=run.id, transport=TRANSPORT, purpose="parent", channel=conversation,
                                       ts=card_id)


async def recover_interrupted_runs(bot: TeamsBot, *, limit: int = 50) -> list[RunRecord]:
    return await sweep(bot.chatops, bot.conversation, limit=limit)
