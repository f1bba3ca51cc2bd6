"""After a crash, Teams' run cards are repainted by the shared recovery sweep (bot.conversation.recovery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation.recovery import recover_every_service
from bot.store import RunRecord

if TYPE_CHECKING:
    from bot.teams.receive import TeamsBot


async def recover_interrupted_runs(bot: TeamsBot, *, limit: int = 50) -> list[RunRecord]:
    return await recover_every_service(bot.pipeline.desk, bot.conversation, limit=limit)
