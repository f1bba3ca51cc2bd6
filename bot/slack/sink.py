"""Where the inbound pipeline's reply to one Slack request goes (bot.conversation.pipeline.ReplySink):
a run followed live in the channel, a sign-off card repainted in place, the reject form opened, and
everything else by the shared who-sees-what rule (bot.slack.answer)."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.chatops.replies import CheckConfirmed, Notice, SignoffDecided
from bot.chatops.service import RunHooks
from bot.conversation.pipeline import RejectFormAllowed, ReplySink
from bot.runs.service import RunOutcome
from bot.services.desk import service_tag
from bot.slack.answer import Respond, answer, refresh_card, tell
from bot.slack.deps import SlackDeps
from bot.slack.poster import not_posted_note, slack_error
from bot.slack.render import render
from bot.slack.run_presenter import RunPresenter
from bot.slack.views.blocks import SlackMessage, esc, section, user
from bot.slack.views.notices import notice_message
from bot.slack.views.run import check_reply, run_verdict
from bot.slack.views.signoff import reject_modal

log = logging.getLogger("golive.slack")

PAST = {"approve": "approved", "reject": "rejected"}


def recorded_not_shown(decision: str, error: str | None) -> SlackMessage:
    """What the clicker is told when the decision is stored but the card could not be repainted."""
    done = {"approve": "approval", "reject": "rejection", "withdraw": "withdrawal"}.get(decision, decision)
    text = (f"Your {done} is recorded, but the card could not be updated ({error or 'no answer from Slack'}); "
            "it shows the decision at its next update, and `/golive status` shows it now.")
    return SlackMessage(text=text, blocks=[section(esc(text))])


class SlackSink(ReplySink):
    def __init__(self, deps: SlackDeps, *, channel: str | None, user: str, respond: Respond | None,
                 clicked_ts: str | None = None, trigger_id: str | None = None) -> None:
        self.deps = deps
        self.channel = channel
        self.user = user
        self.respond = respond
        self.clicked_ts = clicked_ts
        self.trigger_id = trigger_id
        self.presenter: RunPresenter | None = None

    def run_hooks(self) -> RunHooks:
        self.presenter = RunPresenter(self.deps, self.channel or "")
        return self.presenter.hooks()

    async def interrupted(self) -> None:
        if self.presenter is not None:
            await self.presenter.interrupted()

    async def deliver(self, reply: Any) -> None:
        if isinstance(reply, RunOutcome) and self.presenter is not None:
            await self.finish_run(self.presenter, reply)
        elif isinstance(reply, SignoffDecided):
            await self.decided(reply)
        elif isinstance(reply, CheckConfirmed):
            await self.confirmed(reply)
        elif isinstance(reply, RejectFormAllowed):
            await self.open_reject_form(reply)
        else:
            await answer(self.deps, reply, channel=self.channel or "", user=self.user, respond=self.respond)

    async def tell(self, message: SlackMessage) -> None:
        await tell(self.deps, message, channel=self.channel, user=self.user, respond=self.respond)

    async def finish_run(self, presenter: RunPresenter, outcome: RunOutcome) -> None:
        await presenter.finish(outcome)
        if presenter.parent is None:  # nowhere to show it in the channel: tell the requester at least
            final = render(presenter.final_view(outcome))
            note = not_posted_note(presenter.post_error) + "\n"
            await self.tell(SlackMessage(text=note + final.text, blocks=final.blocks))

    async def decided(self, reply: SignoffDecided) -> None:
        if reply.recorded:
            if not await refresh_card(self.deps, reply, fallback_channel=self.channel, fallback_ts=self.clicked_ts):
                await self.tell(recorded_not_shown(reply.decision, self.deps.poster.last_error))
            return
        done = reply.request.decisions.get(reply.role)
        title = next((r.title for r in reply.stage.roles if r.id == reply.role), reply.role)
        what = f"already {PAST[done.decision]} by {user(done.user_id)}" if done else "already withdrawn"
        text = f"{esc(title)} was {what}; nothing changed."
        await self.tell(SlackMessage(text=text, blocks=[section(text)]))

    async def confirmed(self, reply: CheckConfirmed) -> None:
        """Repaint the check's reply and the run's verdict (a confirmation may change it)."""
        if not reply.recorded:
            await self.tell(notice_message(Notice(f"{reply.check_id} was already confirmed; nothing changed.")))
            return
        poster, run_id = self.deps.poster, reply.run.id
        confirmed = next(r for r in reply.results if r.check_id == reply.check_id)
        thread = await poster.find(run_id, f"thread:{reply.check_id}")
        if thread is not None:
            await poster.update(thread, check_reply(confirmed, run_id))
        parent = await poster.find(run_id, "parent")
        if parent is not None and reply.verdict is not None:
            await poster.update(parent, run_verdict(reply.run, reply.results, reply.verdict, reply.run.wall_ms))

    async def open_reject_form(self, allowed: RejectFormAllowed) -> None:
        meta = {"request": allowed.request.id, "role": allowed.role, "channel": self.channel, "ts": self.clicked_ts}
        if (service := service_tag()) is not None:  # the reject goes to the service the card is for
            meta["service"] = service
        metadata = json.dumps(meta)
        view = reject_modal(role_title=allowed.role_title, stage_title=allowed.stage_title,
                            private_metadata=metadata)
        try:
            await self.deps.client.views_open(trigger_id=self.trigger_id or "", view=view)
        except Exception as exc:  # the trigger expired (3 s) or Slack refused
            notice = Notice(f"Could not open the reject form ({slack_error(exc)}); click Reject again.")
            await self.tell(notice_message(notice))
