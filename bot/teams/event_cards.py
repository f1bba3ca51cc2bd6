"""Adaptive Cards for what the bot says by itself: rollout announcements and watch alerts (with the
rollback / keep-going buttons the rollout area acts on)."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from bot.announcements.events import AlertEvent, Announcement, RunReported
from bot.teams import cardkit as ck
from bot.teams.cards import Names, result_blocks, same, verdict_blocks
from bot.teams.ids import VERB_ROLLOUT

ANNOUNCE: dict[str, tuple[str, ck.Color]] = {
    "promoted": ("🚀 Promoted to {phase}", "good"),
    "rolled_back": ("↩️ Rolled back {previous}", "warning"),
    "refused": ("⛔ Promotion to {phase} refused", "attention"),
    "paused": ("⏸️ Rollout paused at {phase}", "warning"),
    "resumed": ("▶️ Rollout resumed at {phase}", "good"),
    "blind": ("🙈 The watch of {phase} cannot evaluate some rules", "warning"),
}
LEVEL_COLOR: dict[str, ck.Color] = {"P0": "attention", "P1": "warning", "P2": "default"}
LEVEL_STYLE: dict[str, ck.Style] = {"P0": "attention", "P1": "warning", "P2": "emphasis"}


@singledispatch
def render_event(event: Any, names: Names = same) -> ck.Card:
    return ck.card([ck.text(str(event))], fallback=str(event))


@render_event.register
def announcement_card(event: Announcement, names: Names = same) -> ck.Card:
    template, color = ANNOUNCE.get(event.kind, ("{kind} {phase}", "default"))
    icon = template.split(" ", 1)[0]
    title = f"{icon} {event.headline[:1].upper()}{event.headline[1:]}"
    body: list[ck.Element] = [ck.heading(title, color=color),
                              ck.text(event.checklist + (f" — by {names(event.by_person)}" if event.by_person else ""),
                                      subtle=True)]
    body += ck.bullets(event.reasons)
    if event.flags:
        body.append(ck.facts(event.flags.items()))
    if record := ck.page_link("record", event.checklist, "Deployment record"):
        body.append(ck.text(record, subtle=True))
    return ck.card(body, fallback=f"{title} ({event.checklist})")


@render_event.register
def alert_card(event: AlertEvent, names: Names = same) -> ck.Card:
    if event.state == "resolved":
        title = f"✅ All clear: {event.rule} ({event.level}) on {event.phase}" if event.healthy else \
            f"⏹️ Alert closed: {event.rule} ({event.level}) on {event.phase}"
        body = [ck.text(title, weight="Bolder", color="good"), ck.text(event.message, subtle=True),
                *ck.monospace(event.chart)]
        return ck.card(body, fallback=title)
    verb = "escalated" if event.state == "escalated" else "alert"
    title = f"🚨 {event.level} {verb}: {event.rule} on {event.phase}"
    items = [ck.text(title, size="Medium", weight="Bolder", color=LEVEL_COLOR.get(event.level)),
             ck.text(event.message)]
    details = [("Value", str(event.value)), ("Threshold", str(event.threshold))] if event.value is not None else []
    details.append(("Incident", event.incident_id))
    if event.mention and not event.mention.startswith("<"):  # Slack mention syntax means nothing here
        details.append(("Paging", names(event.mention)))
    body = [ck.container(items, style=LEVEL_STYLE.get(event.level)), ck.facts(details), *ck.monospace(event.chart)]
    if page := ck.page_link("rollout", event.checklist, "Rollout page: charts and timeline"):
        body.append(ck.text(page, subtle=True))
    labels = {"rollback": ("Roll back", "destructive"), "keep_going": ("Keep going", "default")}
    actions = [ck.execute(labels[a][0], VERB_ROLLOUT, {"action": a, "phase": event.phase},
                          style=labels[a][1])  # type: ignore[arg-type]  # a literal style from `labels`
               for a in event.actions if a in labels]
    return ck.card(body, actions, fallback=f"{title}: {event.message}")


def alert_closed_card(event: AlertEvent, names: Names = same) -> ck.Card:
    """What an opened alert's card becomes once the incident is resolved: no buttons left to press."""
    ended = "resolved" if event.healthy else "closed"
    title = f"{event.level} {event.rule} on {event.phase} — {ended} {event.at:%H:%M} UTC"
    icon = "✅" if event.healthy else "⏹️"
    color: ck.Color | None = "good" if event.healthy else None
    body = [ck.text(f"{icon} {title}", weight="Bolder", color=color), ck.facts([("Incident", event.incident_id)])]
    return ck.card(body, fallback=title)


@render_event.register
def run_report_card(event: RunReported, names: Names = same) -> ck.Card:
    """A scheduled run's verdict, posted by the bot itself."""
    verdict = event.verdict
    body: list[ck.Element] = [
        ck.heading(f"Scheduled run {event.selector} — {verdict.decision.label}"),
        ck.text(f"{event.checklist} — run {event.run_id}", subtle=True),
        *verdict_blocks(verdict), *result_blocks(event.results)]
    return ck.card(body, fallback=f"{event.selector}: {verdict.headline()}", run_id=event.run_id)
