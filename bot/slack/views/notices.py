"""Short ephemeral answers: refusals, failures, 'already running', one-line notices."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.chatops.replies import Denied, Failed, Notice, RunBusy
from bot.rollout.models import RolloutResult
from bot.slack.views.blocks import SlackMessage, bullet_list, esc, esc_items, section, user, when


def notice_message(reply: Denied | Failed | Notice | RunBusy) -> SlackMessage:
    if isinstance(reply, Denied):
        text = f"🚫 Not allowed: {esc(reply.reason)}"
    elif isinstance(reply, Failed):
        text = f"⚠️ {esc(reply.message)}"
    elif isinstance(reply, RunBusy):
        running = reply.running
        by = f", started by {user(running.requested_by)} {reply.where} {when(running.started_at)}" if running else ""
        if reply.overlap:
            text = (f"⏳ `{esc(reply.selector)}` shares checks with `{esc(reply.overlap)}`, which is running{by}; "
                    f"nothing was started. Run it again once that run has finished.")
        else:
            text = (f"⏳ `{esc(reply.selector)}` is already running{by}. It will end with the verdict "
                    f"(`/golive status` shows it).")
    else:
        text = esc(reply.message)
    return SlackMessage(text=text, blocks=[section(text)])


def rollout_result_message(result: RolloutResult) -> SlackMessage:
    """The answer to `/golive promote|rollback` for the one who asked; the channel gets the announcement."""
    summary = result.message or f"{result.action} {result.phase or ''}".strip()
    if (result.reasons or result.flags) and ": " in summary:  # the details follow below
        summary = summary.split(": ", 1)[0]
    headline = f"{'✅' if result.ok else '⛔'} {esc(summary)}"
    blocks: list[Block] = [section(headline)]
    if result.reasons:
        blocks.append(section(bullet_list(esc_items(result.reasons))))
    if result.flags:
        blocks.append(section(bullet_list(esc_items([f"{name} = {value}" for name, value in result.flags.items()]))))
    reasons = "; ".join(result.reasons)
    return SlackMessage(text=f"{headline}{': ' + reasons if reasons else ''}", blocks=blocks)
