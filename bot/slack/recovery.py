"""After a crash, Slack's runs are repainted by the shared recovery sweep (bot.conversation.recovery)."""

from __future__ import annotations

from bot.conversation.recovery import recover_every_service
from bot.slack.deps import SlackDeps
from bot.store import RunRecord


async def recover_interrupted_runs(deps: SlackDeps, *, limit: int = 50) -> list[RunRecord]:
    return await recover_every_service(deps.pipeline.desk, deps.poster, limit=limit)
