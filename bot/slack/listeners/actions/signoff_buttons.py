"""Sign-off card buttons: Approve records at once; Reject opens a modal for the reason (after the
access check, so an unauthorised click never sees it); Withdraw takes a reject back. Each is read into
a click and handed to the inbound pipeline; the Slack sink repaints the card or opens the form."""

from __future__ import annotations

from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.conversation.pipeline import RejectFormClick, SignoffClick
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_SIGNOFF_APPROVE, ACTION_SIGNOFF_REJECT, ACTION_SIGNOFF_WITHDRAW
from bot.slack.payloads import inbound_click
from bot.slack.views.signoff import parse_button_value


async def record_decision(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond,
                          decision: Literal["approve", "withdraw"]) -> None:
    await deps.pipeline.handle(inbound_click(deps, body, respond,
                                             lambda value: SignoffClick(*parse_button_value(value), decision)))


async def open_reject_modal(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond) -> None:
    await deps.pipeline.handle(inbound_click(deps, body, respond,
                                             lambda value: RejectFormClick(*parse_button_value(value))))


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_click(ack: AsyncAck) -> None:
        await ack()

    async def approve(body: dict[str, Any], respond: AsyncRespond) -> None:
        await record_decision(deps, body, respond, "approve")

    async def withdraw(body: dict[str, Any], respond: AsyncRespond) -> None:
        await record_decision(deps, body, respond, "withdraw")

    async def reject(body: dict[str, Any], respond: AsyncRespond) -> None:
        await open_reject_modal(deps, body, respond)

    app.block_action(ACTION_SIGNOFF_APPROVE)(ack=ack_click, lazy=[approve])
    app.block_action(ACTION_SIGNOFF_REJECT)(ack=ack_click, lazy=[reject])
    app.block_action(ACTION_SIGNOFF_WITHDRAW)(ack=ack_click, lazy=[withdraw])
