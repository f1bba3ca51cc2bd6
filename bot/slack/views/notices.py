"""Short ephemeral answers: refusals, failures, 'already running', one-line notices."""

from __future__ import annotations

from bot.chatops.replies import Denied, Failed, Notice, RunBusy
from bot.slack.views.blocks import SlackMessage, esc, section, user, when


def notice_message(reply: Denied | Failed | Notice | RunBusy) -> SlackMessage:
    if isinstance(reply, Denied):
        text = f"🚫 Not allowed: {esc(reply.reason)}"
    elif isinstance(reply, Failed):
        text = f"⚠️ {esc(reply.message)}"
    elif isinstance(reply, RunBusy):
        running = reply.running
        by = f", started by {user(running.requested_by)} {when(running.started_at)}" if running else ""
        text = (f"⏳ `{esc(reply.selector)}` is already running{by}. Its message in the channel will end with "
                f"the verdict.")
    else:
        text = esc(reply.message)
    return SlackMessage(text=text, blocks=[section(text)])
