"""`/golive …`: acknowledged at once (Slack allows 3 s), then read into a command and handed to the
inbound pipeline (bot.conversation.pipeline) in a lazy listener."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chatops.commands import parse_command
from bot.conversation.pipeline import Inbound
from bot.slack.deps import SlackDeps
from bot.slack.ids import COMMAND, TRANSPORT
from bot.slack.sink import SlackSink


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_golive(ack: AsyncAck) -> None:
        await ack()

    async def handle_golive(body: dict[str, Any], respond: AsyncRespond) -> None:
        await handle_command(deps, body, respond)

    app.command(COMMAND)(ack=ack_golive, lazy=[handle_golive])


async def handle_command(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond) -> None:
    trigger = body.get("trigger_id")
    user, channel = body["user_id"], body["channel_id"]
    sink = SlackSink(deps, channel=channel, user=user, respond=respond, trigger_id=trigger)
    text = body.get("text", "")
    await deps.pipeline.handle(Inbound(TRANSPORT, user, parse_command(text), f"command:{trigger}" if trigger else "",
                                       sink, channel=channel, text=text))
