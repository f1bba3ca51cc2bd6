"""The help reply (also what any unknown `/golive …` gets), and the history list."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.chatops.replies import HelpReply, HistoryReply
from bot.runs.status import age
from bot.slack.ids import COMMAND
from bot.slack.views.blocks import SlackMessage, context, esc, section, user


def help_message(reply: HelpReply) -> SlackMessage:
    lines = [f"`{COMMAND} {esc(cmd)}` — {esc(text)}" for cmd, text in reply.usage]
    intro = ""
    if reply.problem:
        intro = f"{esc(reply.problem)}\n\n"
    elif reply.unknown:
        intro = f"I don't know `{esc(reply.unknown)}`.\n\n"
    blocks: list[Block] = [section(intro + "*golive commands*\n" + "\n".join(lines))]
    if reply.services:  # several services: which ones, and that a mapped channel needs no name
        blocks.append(context(services_note(reply.services)))
    return SlackMessage(text=intro + esc(f"Usage: {COMMAND} " + " | ".join(c for c, _ in reply.usage)),
                        blocks=blocks)


def services_note(services: list[str]) -> str:
    return (f"Services: {', '.join(f'`{esc(s)}`' for s in services)}. In a service's release channel the service "
            f"may be left out; elsewhere name it, e.g. `{COMMAND} status {esc(services[0])}`.")


def history_message(reply: HistoryReply) -> SlackMessage:
    if not reply.runs:
        return SlackMessage(text="No runs yet.", blocks=[section(f"No runs yet — try `{COMMAND} run day1`.")])
    lines = []
    for run in reply.runs:
        verdict = run.verdict.decision.label if run.verdict else run.status
        lines.append(f"`{esc(run.id)}` *{esc(run.selector)}* — {esc(verdict)} · by {user(run.requested_by)} · "
                     f"{age(run.started_at)}")
    return SlackMessage(text=esc(f"Last {len(reply.runs)} runs of {reply.checklist}"),
                        blocks=[section(f"*Recent runs of {esc(reply.checklist)}*\n" + "\n".join(lines)),
                                context("`golive history` in a terminal shows more")])
