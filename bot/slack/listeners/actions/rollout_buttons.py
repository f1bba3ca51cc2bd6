"""Roll back / Keep going buttons on rollout alerts. The decision belongs to the rollout area: after
the pipeline's access check it calls `deps.on_rollout_action(action, phase, user_id)` when it is set."""

from __future__ import annotations

from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.conversation.pipeline import RolloutClick
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_ROLLOUT_KEEP_GOING, ACTION_ROLLOUT_ROLLBACK
from bot.slack.payloads import inbound_click


async def rollout_click(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond,
                        action: Literal["rollback", "keep_going"]) -> None:
    await deps.pipeline.handle(inbound_click(deps, body, respond, lambda phase: RolloutClick(action, phase)))


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_click(ack: AsyncAck) -> None:
        await ack()

    async def rollback(body: dict[str, Any], respond: AsyncRespond) -> None:
        await rollout_click(deps, body, respond, "rollback")

    async def keep_going(body: dict[str, Any], respond: AsyncRespond) -> None:
        await rollout_click(deps, body, respond, "keep_going")

    app.block_action(ACTION_ROLLOUT_ROLLBACK)(ack=ack_click, lazy=[rollback])
    app.block_action(ACTION_ROLLOUT_KEEP_GOING)(ack=ack_click, lazy=[keep_going])
