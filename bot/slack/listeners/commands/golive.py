"""`/golive …`: acknowledged at once (Slack allows 3 s), then parsed and executed in a lazy listener."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chatops.actor import Actor
from bot.chatops.commands import RunCommand, parse_command
from bot.slack.answer import answer
from bot.slack.deps import SlackDeps
from bot.slack.ids import COMMAND, TRANSPORT
from bot.slack.run_flow import run_in_channel


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_golive(ack: AsyncAck) -> None:
        await ack()

    async def handle_golive(body: dict[str, Any], respond: AsyncRespond) -> None:
        await handle_command(deps, body, respond)

    app.command(COMMAND)(ack=ack_golive, lazy=[handle_golive])


async def handle_command(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond) -> None:
    trigger = body.get("trigger_id")
    if trigger and not await deps.first_delivery(f"command:{trigger}"):
        return
    actor = Actor(user_id=body["user_id"], transport=TRANSPORT)
    channel = body["channel_id"]
    command = parse_command(body.get("text", ""))
    if isinstance(command, RunCommand):
        await run_in_channel(deps, command.selector, channel=channel, actor=actor, respond=respond)
        return
    reply = await deps.chatops.execute(command, actor)
    await answer(deps, reply, channel=channel, user=actor.user_id, respond=respond)
