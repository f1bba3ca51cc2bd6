"""Events the bot announces by itself (promotions, rollbacks, alerts). Plain data: the rollout code
produces them, each transport's notifier renders and posts them, the store keeps the record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from checks.result import CheckResult, utcnow
from checks.verdict import Verdict

BOT_ACTORS = frozenset({"golive-watch"})
"""Actors that are golive itself (bot.rollout.watch.WATCH_ACTOR): an event they cause names nobody."""
NO_PHASE = "none"
"""The phase name events carry when no rollout phase is active (as bot.rollout.models.NO_PHASE)."""

AnnouncementKind = Literal["promoted", "rolled_back", "refused", "paused", "resumed", "blind"]
AlertLevel = Literal["P0", "P1", "P2"]
AlertState = Literal["opened", "escalated", "resolved"]


@dataclass
class Announcement:
    kind: AnnouncementKind
    checklist: str
    phase: str
    actor: str
    flags: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    previous_phase: str | None = None
    at: datetime = field(default_factory=utcnow)

    @property
    def headline(self) -> str:
        """What happened, as a sentence every transport shows the same way ("none" is no phase at all)."""
        phase = None if self.phase == NO_PHASE else self.phase
        previous = None if self.previous_phase in (None, NO_PHASE) else self.previous_phase
        if self.kind == "promoted":
            return f"promoted to {phase}" + (f" (was {previous})" if previous else "")
        if self.kind == "rolled_back":
            rolled = f"{previous} rolled back" if previous else "rolled back"
            return rolled + (f" to {phase}" if phase else ": every rollout flag is off")
        if self.kind == "refused":
            if phase and previous != phase:
                return f"promotion to {phase} refused"
            return f"rollout change at {phase} refused" if phase else "rollout change refused"
        if self.kind == "blind":
            return f"the watch of {phase} cannot evaluate some rules" if phase else \
                "the watch cannot evaluate some rules"
        verb = {"paused": "paused", "resumed": "resumed"}.get(self.kind, self.kind.replace("_", " "))
        return f"rollout {verb}" + (f" at {phase}" if phase else "")

    @property
    def by_person(self) -> str | None:
        """The person who caused it, or None when golive did it by itself (the watch)."""
        return None if self.actor in BOT_ACTORS else self.actor

    @property
    def subject(self) -> str:
        """Messages about one rollout phase share a thread keyed by this subject."""
        return rollout_subject(self.checklist, self.phase if self.kind != "rolled_back" else
                               (self.previous_phase or self.phase))


@dataclass
class AlertEvent:
    incident_id: str
    state: AlertState
    level: AlertLevel
    rule: str
    message: str  # which value broke which threshold, e.g. "p95 latency 2430 ms > 2000 ms"
    checklist: str
    phase: str
    value: float | str | None = None
    threshold: float | str | None = None
    mention: str | None = None  # who to page on escalation (e.g. "<!subteam^S123>" or an on-call user)
    actions: list[Literal["rollback", "keep_going"]] = field(default_factory=list)
    at: datetime = field(default_factory=utcnow)
    chart: str = ""  # the watched metrics over the window, as text (bot.rollout.chart), threshold drawn
    healthy: bool = True  # resolved because the rules hold again; False: closed anyway (a rollback ended the phase)

    @property
    def subject(self) -> str:
        return rollout_subject(self.checklist, self.phase)


@dataclass
class RunReported:
    """A run nobody typed (a scheduled phase) finished: every channel gets its verdict."""

    checklist: str
    run_id: str
    selector: str
    requested_by: str
    verdict: Verdict
    results: list[CheckResult]
    wall_ms: float | None = None
    at: datetime = field(default_factory=utcnow)

    @property
    def subject(self) -> str:
        return self.run_id


@dataclass
class ChannelNotice:
    """A line golive posts in the release channel on its own: a break-glass action, a witnessed audit
    head. Each transport that posted it appends the message's reference (`bot.store.MessageRef`) to
    `delivered`, so the caller knows whether, and where, it was seen."""

    kind: Literal["break_glass", "witness"]
    text: str
    subject: str
    purpose: str
    thread_subject: str | None = None  # reply in the thread of the message posted under this subject, if any
    delivered: list[Any] = field(default_factory=list)
    at: datetime = field(default_factory=utcnow)


Event = Announcement | AlertEvent | RunReported | ChannelNotice


def rollout_subject(checklist: str, phase: str) -> str:
    return f"rollout:{checklist}:{phase}"


class Notifier(Protocol):
    async def publish(self, event: Event) -> None: ...


class FanoutNotifier:
    """Publish one event to every configured transport (Slack and Teams at once); one failing
    transport never keeps the event from the others."""

    def __init__(self, notifiers: Sequence[Notifier] = ()) -> None:
        self.notifiers = list(notifiers)
        self.errors: list[str] = []

    def add(self, notifier: Notifier) -> None:
        self.notifiers.append(notifier)

    async def publish(self, event: Event) -> None:
        import logging

        from checks.masking import mask

        for notifier in self.notifiers:
            try:
                await notifier.publish(event)
            except Exception as exc:
                self.errors.append(mask(f"{type(notifier).__name__}: {exc}"))
                logging.getLogger("golive.notify").warning("notifier %s failed: %s", type(notifier).__name__,
                                                           mask(str(exc)))


class RecordingNotifier:
    """Collects events in memory: the terminal transport and tests use it."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)
