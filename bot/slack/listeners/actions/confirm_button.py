"""The Confirm button under a check that needs a person (e.g. the Sentry test event without an API
token): the pipeline records the confirmation once; the sink repaints the check's reply and the verdict."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.conversation.pipeline import ConfirmClick
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_CHECK_CONFIRM
from bot.slack.payloads import inbound_click


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_confirm(ack: AsyncAck) -> None:
        await ack()

    async def confirm(body: dict[str, Any], respond: AsyncRespond) -> None:
        def command(value: str) -> ConfirmClick:
            run_id, _, check_id = value.partition("|")
            return ConfirmClick(run_id, check_id)

        await deps.pipeline.handle(inbound_click(deps, body, respond, command))

    app.block_action(ACTION_CHECK_CONFIRM)(ack=ack_confirm, lazy=[confirm])
