"""Starting a run from Slack (the slash command and the Re-run button share this)."""

from __future__ import annotations

import asyncio

from bot.chatops.actor import Actor
from bot.runs.service import RunOutcome
from bot.slack.answer import Respond, answer, tell
from bot.slack.deps import SlackDeps
from bot.slack.poster import not_posted_note
from bot.slack.render import render
from bot.slack.run_presenter import RunPresenter
from bot.slack.views.blocks import SlackMessage


async def run_in_channel(deps: SlackDeps, selector: str, *, channel: str, actor: Actor,
                         respond: Respond | None) -> None:
    deps.tasks.track_current()
    presenter = RunPresenter(deps, channel)
    try:
        reply = await deps.chatops.run(actor, selector, presenter.hooks())
    except asyncio.CancelledError:
        await presenter.interrupted()
        raise
    if not isinstance(reply, RunOutcome):
        await answer(deps, reply, channel=channel, user=actor.user_id, respond=respond)
        return
    await presenter.finish(reply)
    if presenter.parent is None:  # nowhere to show it in the channel: tell the requester at least
        final = render(presenter.final_view(reply))
        note = not_posted_note(presenter.post_error) + "\n"
        await tell(deps, SlackMessage(text=note + final.text, blocks=final.blocks), channel=channel,
                   user=actor.user_id, respond=respond)
