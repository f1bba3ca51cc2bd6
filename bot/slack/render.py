"""The Slack renderer: one function, chosen by the type of what is shown (functools.singledispatch, as
Teams' cards), for the conversation layer's views, the rollout events and every ChatOps reply."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from bot.announcements.events import AlertEvent, Announcement, RunReported
from bot.chatops.replies import (
    Denied,
    Failed,
    HelpReply,
    HistoryReply,
    Notice,
    RunBusy,
    ServicesOverview,
    SignoffDecided,
    SignoffOpened,
)
from bot.conversation.views import (
    AlertClosed,
    EvidenceReply,
    Line,
    RunFinal,
    RunInterrupted,
    RunProgress,
    RunStarted,
)
from bot.rollout.models import RolloutResult
from bot.runs.service import RunOutcome
from bot.runs.status import StatusOverview
from bot.slack.views.blocks import SlackMessage, context, divider, esc, page_link, section
from bot.slack.views.help import help_message, history_message
from bot.slack.views.notices import notice_message, rollout_result_message
from bot.slack.views.rollout import alert_closed_message, alert_message, announcement_message
from bot.slack.views.run import (
    DECISION_ICON,
    EVIDENCE_LIMIT,
    check_reply,
    run_interrupted,
    run_progress,
    run_report_message,
    run_verdict,
)
from bot.slack.views.signoff import signoff_card
from bot.slack.views.status import status_message

GROUP_EVIDENCE_LIMIT = 9_000
"""Characters of evidence one grouped reply may carry in all (Slack's blocks stay well under their limit)."""


@singledispatch
def render(view: Any) -> SlackMessage:
    """A reply type nobody wrote a renderer for is shown by its `message`, as Teams does (bot.teams.cards)."""
    message = getattr(view, "message", None)
    if isinstance(message, str) and message:
        text = esc(message)
        return SlackMessage(text=text, blocks=[section(text)])
    raise TypeError(f"no Slack rendering for {type(view).__name__}")


@render.register
def _(view: SlackMessage) -> SlackMessage:
    return view


@render.register
def _(view: RunStarted) -> SlackMessage:
    text = f"⏳ {esc(view.selector)}: starting…"
    return SlackMessage(text=text, blocks=[section(text)])


@render.register
def _(view: RunProgress) -> SlackMessage:
    return run_progress(view.run, view.results, view.total)


@render.register
def _(view: RunFinal) -> SlackMessage:
    if view.compact:  # the full message was refused: verdict, counts and where the rest is
        verdict = view.verdict
        text = (f"{DECISION_ICON[verdict.decision]} *{esc(view.run.selector)}: {verdict.decision.label}* — "
                f"{len(view.results)} checks. The full result could not be shown here; it is recorded: "
                f"{page_link('run', view.run.id, 'open the run') or f'`golive status --run {esc(view.run.id)}`'}.")
        return SlackMessage(text=esc(f"{view.run.selector}: {verdict.headline()}"), blocks=[section(text)])
    return run_verdict(view.run, view.results, view.verdict, view.wall_ms, evidence_note=view.evidence_note)


@render.register
def _(view: Line) -> SlackMessage:
    return SlackMessage(text=esc(view.text), blocks=[section(esc(view.text))])


@render.register
def _(view: RunInterrupted) -> SlackMessage:
    return run_interrupted(view.run, view.results, view.total)


@render.register
def _(view: EvidenceReply) -> SlackMessage:
    if len(view.results) == 1:
        return check_reply(view.results[0], view.run_id)
    share = min(EVIDENCE_LIMIT, GROUP_EVIDENCE_LIMIT // len(view.results))
    blocks, texts = [], []
    for result in view.results:
        one = check_reply(result, view.run_id, evidence_limit=share)
        blocks += [*one.blocks, divider()]
        texts.append(one.text)
    blocks.append(context(f"evidence of {len(view.results)} checks, grouped to keep within Slack's posting limits"))
    return SlackMessage(text="\n".join(texts)[:3000], blocks=blocks)


@render.register
def _(view: Announcement) -> SlackMessage:
    return announcement_message(view)


@render.register
def _(view: AlertEvent) -> SlackMessage:
    return alert_message(view)


@render.register
def _(view: AlertClosed) -> SlackMessage:
    if view.event is not None:
        return alert_closed_message(view.event)
    text = f"⏹️ ~alert `{esc(view.incident_id)}` on *{esc(view.phase)}*~ closed: {esc(view.why)}"
    return SlackMessage(text=f"alert {view.incident_id} on {view.phase} closed: {view.why}", blocks=[section(text)])


@render.register
def _(view: RunReported) -> SlackMessage:
    return run_report_message(view)


@render.register
def _(view: RunOutcome) -> SlackMessage:
    """A finished run handed back whole (a `run` executed without following it): its verdict message."""
    report = view.report
    return run_verdict(view.run, report.results, report.verdict, report.wall_ms,
                       evidence_note=f"`golive status --run {view.run.id}` shows the evidence")


@render.register
def _(view: StatusOverview) -> SlackMessage:
    return status_message(view)


@render.register
def _(view: SignoffOpened) -> SlackMessage:
    return signoff_card(view.request, view.stage)


@render.register
def _(view: SignoffDecided) -> SlackMessage:
    return signoff_card(view.request, view.stage)


@render.register
def _(view: HelpReply) -> SlackMessage:
    return help_message(view)


@render.register
def _(view: HistoryReply) -> SlackMessage:
    return history_message(view)


@render.register
def _(view: RolloutResult) -> SlackMessage:
    return rollout_result_message(view)


@render.register
def _(view: ServicesOverview) -> SlackMessage:
    """One line per service, in as many sections as Slack's per-section limit needs (50 services fit)."""
    head, *_ = view.message.split("\n", 1)
    chunks: list[list[str]] = [[]]
    for line in view.lines:
        if sum(len(x) + 1 for x in chunks[-1]) + len(line) > 2900:
            chunks.append([])
        chunks[-1].append(esc(line))
    return SlackMessage(text=esc(view.message), blocks=[section(esc(head)), *(section("\n".join(c)) for c in chunks)])


@render.register(Denied)
@render.register(Failed)
@render.register(Notice)
@render.register(RunBusy)
def _(view: Any) -> SlackMessage:
    return notice_message(view)
