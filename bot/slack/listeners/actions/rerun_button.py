"""The Re-run button on an interrupted run's message: starts a new run of the same selector."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chatops.commands import RunCommand
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_RUN_RERUN
from bot.slack.payloads import inbound_click


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_rerun(ack: AsyncAck) -> None:
        await ack()

    async def rerun(body: dict[str, Any], respond: AsyncRespond) -> None:
        await deps.pipeline.handle(inbound_click(deps, body, respond, lambda value: RunCommand(selector=value)))

    app.block_action(ACTION_RUN_RERUN)(ack=ack_rerun, lazy=[rerun])
