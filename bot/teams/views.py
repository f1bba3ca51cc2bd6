"""Teams cards for the conversation layer's views and the rollout events, registered on the one Teams
renderer (`bot.teams.cards.render`, a functools.singledispatch), so every Teams message is chosen by type."""

from __future__ import annotations

from bot.announcements.events import AlertEvent, Announcement, RunReported
from bot.conversation.views import AlertClosed, EvidenceReply, RunFinal, RunInterrupted, RunProgress, RunStarted
from bot.teams import cardkit as ck
from bot.teams import cards, event_cards
from bot.teams.cards import (
    DECISION_COLOR,
    Names,
    counts_line,
    render,
    result_blocks,
    same,
    status_hint,
    verdict_blocks,
)


@render.register
def _started(view: RunStarted, names: Names = same) -> ck.Card:
    return cards.run_started_card(view.selector, view.requested_by, names)


@render.register
def _progress(view: RunProgress, names: Names = same) -> ck.Card:
    return cards.run_progress_card(view.run, view.results, view.total, names)


@render.register
def _interrupted(view: RunInterrupted, names: Names = same) -> ck.Card:
    return cards.run_interrupted_card(view.run, view.results, names)


@render.register
def run_final_card(view: RunFinal, names: Names = same) -> ck.Card:
    """The verdict; it points at the thread for evidence only when every evidence reply was posted."""
    run, verdict = view.run, view.verdict
    if view.compact:  # the full card was refused: verdict, counts and where the rest is
        body = [ck.heading(f"Run {run.selector} — {verdict.decision.label}", color=DECISION_COLOR[verdict.decision]),
                ck.text(f"{len(view.results)} checks: {counts_line(verdict.counts)} — requested by "
                        f"{names(run.requested_by)}", subtle=True),
                ck.text(f"The full result could not be shown here; it is recorded ({status_hint(run.id)}).")]
        return ck.card(body, fallback=f"{run.selector}: {verdict.headline()}", run_id=run.id)
    wall = f"{view.wall_ms / 1000:.1f} s" if view.wall_ms is not None else "—"
    body = [ck.heading(f"Run {run.selector} — {verdict.decision.label}", color=DECISION_COLOR[verdict.decision]),
            ck.facts([("Checks", f"{len(view.results)}: {counts_line(verdict.counts)}"), ("Wall time", wall),
                      ("Requested by", names(run.requested_by)), ("Run", run.id)]),
            *verdict_blocks(verdict), *result_blocks(view.results, run_id=run.id)]
    if any(r.status in cards.PROBLEMS for r in view.results):
        body.append(ck.text(f"Evidence: {view.evidence_note.replace('`', '')}", subtle=True,
                            color="attention" if view.undelivered else None))
    return ck.card(body, fallback=f"{run.selector}: {verdict.headline()}", run_id=run.id)


@render.register
def evidence_card(view: EvidenceReply, names: Names = same) -> ck.Card:
    body: list[ck.Element] = []
    for result in view.results:
        lines = [ck.text(f"{result.icon} **{result.check_id}** ({result.criticality.value}, {result.status.value})"
                         f" — {result.summary}")]
        for key, value in result.evidence.items():
            lines.append(ck.text(ck.clip(f"{key}: {value}", max(300, 6000 // len(view.results))), subtle=True,
                                 spacing="None"))
        body.append(ck.container(lines, separator=bool(body)))
    first = view.results[0]
    fallback = f"{first.check_id}: {first.status.value}" + (f" and {len(view.results) - 1} more"
                                                            if len(view.results) > 1 else "")
    return ck.card(body, fallback=fallback, run_id=view.run_id)


@render.register
def _announcement(view: Announcement, names: Names = same) -> ck.Card:
    return event_cards.render_event(view, names)


@render.register
def _alert(view: AlertEvent, names: Names = same) -> ck.Card:
    return event_cards.render_event(view, names)


@render.register
def _report(view: RunReported, names: Names = same) -> ck.Card:
    return event_cards.render_event(view, names)


@render.register
def alert_closed(view: AlertClosed, names: Names = same) -> ck.Card:
    if view.event is not None:
        return event_cards.alert_closed_card(view.event, names)
    title = f"Alert on {view.phase} closed: {view.why}"
    return ck.card([ck.text(f"⏹️ {title}", weight="Bolder"), ck.facts([("Incident", view.incident_id)])],
                   fallback=title)
