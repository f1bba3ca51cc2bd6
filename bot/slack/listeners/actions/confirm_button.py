"""The Confirm button under a check that needs a person (e.g. the Sentry test event without an API
token): records the confirmation once, then repaints the check's reply and the run's verdict."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chatops.replies import CheckConfirmed, Notice
from bot.slack.answer import answer, tell
from bot.slack.deps import SlackDeps
from bot.slack.ids import ACTION_CHECK_CONFIRM
from bot.slack.payloads import read_click
from bot.slack.views.notices import notice_message
from bot.slack.views.run import check_reply, run_verdict


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_confirm(ack: AsyncAck) -> None:
        await ack()

    async def confirm(body: dict[str, Any], respond: AsyncRespond) -> None:
        click = read_click(body)
        if not await deps.first_delivery(click.delivery_key):
            return
        run_id, _, check_id = click.value.partition("|")
        reply = await deps.chatops.confirm_check(click.actor, run_id, check_id)
        if not isinstance(reply, CheckConfirmed):
            await answer(deps, reply, channel=click.channel or "", user=click.actor.user_id, respond=respond)
            return
        if not reply.recorded:
            await tell(deps, notice_message(Notice(f"{check_id} was already confirmed; nothing changed.")),
                       channel=click.channel, user=click.actor.user_id, respond=respond)
            return
        confirmed = next(r for r in reply.results if r.check_id == check_id)
        thread = await deps.poster.find(run_id, f"thread:{check_id}")
        if thread is not None:
            await deps.poster.update(thread, check_reply(confirmed, run_id))
        parent = await deps.poster.find(run_id, "parent")
        if parent is not None and reply.verdict is not None:
            await deps.poster.update(parent, run_verdict(reply.run, reply.results, reply.verdict, reply.run.wall_ms))

    app.block_action(ACTION_CHECK_CONFIRM)(ack=ack_confirm, lazy=[confirm])
