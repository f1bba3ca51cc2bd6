"""Sign-off card buttons: Approve records at once; Reject opens a modal for the reason (after the
access check, so an unauthorised click never sees it); Withdraw takes a reject back."""

from __future__ import annotations

import json
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chatops.replies import Notice, SignoffDecided
from bot.slack.answer import answer, refresh_card, tell
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_SIGNOFF_APPROVE, ACTION_SIGNOFF_REJECT, ACTION_SIGNOFF_WITHDRAW
from bot.slack.payloads import read_click
from bot.slack.poster import slack_error
from bot.slack.views.blocks import SlackMessage, esc, section, user
from bot.slack.views.notices import notice_message
from bot.slack.views.signoff import parse_button_value, reject_modal

PAST = {"approve": "approved", "reject": "rejected"}


async def record_decision(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond,
                 decision: Literal["approve", "withdraw"]) -> None:
    click = read_click(body)
    if not await deps.first_delivery(click.delivery_key):
        return
    actor, channel, ts = click.actor, click.channel, click.message_ts
    request_id, role = parse_button_value(click.value)
    reply = await deps.chatops.decide_signoff(actor, request_id, role, decision)
    if isinstance(reply, SignoffDecided):
        if reply.recorded:
            await refresh_card(deps, reply, fallback_channel=channel, fallback_ts=ts)
        else:
            done = reply.request.decisions.get(role)
            title = next((r.title for r in reply.stage.roles if r.id == role), role)
            what = f"already {PAST[done.decision]} by {user(done.user_id)}" if done else "already withdrawn"
            text = f"{esc(title)} was {what}; nothing changed."
            await tell(deps, SlackMessage(text=text, blocks=[section(text)]), channel=channel, user=actor.user_id,
                       respond=respond)
        return
    await answer(deps, reply, channel=channel or "", user=actor.user_id, respond=respond)


async def open_reject_modal(deps: SlackDeps, body: dict[str, Any], respond: AsyncRespond) -> None:
    click = read_click(body)
    if not await deps.first_delivery(click.delivery_key):
        return
    actor, channel, ts = click.actor, click.channel, click.message_ts
    request_id, role = parse_button_value(click.value)
    problem = await deps.chatops.check_signoff(actor, request_id, role, "reject")
    if problem is not None:
        await answer(deps, problem, channel=channel or "", user=actor.user_id, respond=respond)
        return
    request = await deps.chatops.signoff_request(request_id)
    assert request is not None  # check_signoff vouched for the request and its role
    stage = deps.chatops.signoffs().stage(request.stage)
    metadata = json.dumps({"request": request_id, "role": role, "channel": channel, "ts": ts})
    view = reject_modal(role_title=next(r.title for r in stage.roles if r.id == role),
                        stage_title=stage.title or request.stage, private_metadata=metadata)
    try:
        await deps.client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as exc:  # the trigger expired (3 s) or Slack refused
        notice = Notice(f"Could not open the reject form ({slack_error(exc)}); click Reject again.")
        await tell(deps, notice_message(notice), channel=channel, user=actor.user_id, respond=respond)


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
