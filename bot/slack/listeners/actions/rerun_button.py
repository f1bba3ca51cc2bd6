"""The Re-run button on an interrupted run's message: starts a new run of the same selector."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_RUN_RERUN
from bot.slack.payloads import read_click
from bot.slack.run_flow import run_in_channel


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_rerun(ack: AsyncAck) -> None:
        await ack()

    async def rerun(body: dict[str, Any], respond: AsyncRespond) -> None:
        click = read_click(body)
        if not await deps.first_delivery(click.delivery_key):
            return
        await run_in_channel(deps, click.value, channel=click.channel or "", actor=click.actor, respond=respond)

    app.block_action(ACTION_RUN_RERUN)(ack=ack_rerun, lazy=[rerun])
