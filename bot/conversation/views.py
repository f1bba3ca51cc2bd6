"""What the shared workflows ask a transport to show. Plain data: each transport renders these (and the
ChatOps replies and rollout events) with its own renderer, chosen by type (functools.singledispatch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.announcements.events import AlertEvent
from bot.signoff.service import SignoffRequest
from bot.store import MessageRef, RunRecord
from checks.result import CheckResult, Status
from checks.spec import SignoffStage
from checks.verdict import Verdict

NOTEWORTHY = (Status.FAIL, Status.ERROR, Status.WARN)
"""Statuses whose evidence goes in the run's thread; everything else is summarised in the parent."""


@dataclass
class RunStarted:
    """Said at once when a run is asked for (before the run record exists)."""

    selector: str
    requested_by: str


@dataclass
class RunProgress:
    run: RunRecord
    results: Sequence[CheckResult]
    total: int


@dataclass
class RunInterrupted:
    run: RunRecord
    results: Sequence[CheckResult]
    total: int


@dataclass
class EvidenceReply:
    """One thread reply carrying the evidence of one or more noteworthy checks (grouped when many)."""

    run_id: str
    results: Sequence[CheckResult]


@dataclass
class RunFinal:
    """The verdict in the run's parent. `undelivered` lists checks whose evidence could not be posted: the
    message then says so instead of pointing at the thread."""

    run: RunRecord
    results: Sequence[CheckResult]
    verdict: Verdict
    wall_ms: float | None
    undelivered: list[str] = field(default_factory=list)
    failed_replies: int = 0
    compact: bool = False  # the smallest form (verdict, counts, where the evidence is): the full one was refused

    @property
    def evidence_note(self) -> str:
        """What the verdict may claim about the thread, and nothing more."""
        if not self.undelivered:
            return "evidence in the thread"
        replies = "reply" if self.failed_replies == 1 else "replies"
        return (f"{self.failed_replies} evidence {replies} could not be posted ({', '.join(self.undelivered)}): "
                f"`golive status --run {self.run.id}` shows it")


@dataclass
class Line:
    """One plain line of text: what is left to say when no formatted message can be posted at all."""

    text: str


@dataclass
class SignoffMoved:
    """An older card of a sign-off request once it is posted again: a pointer to `current`, no buttons."""

    request: SignoffRequest
    stage: SignoffStage
    current: MessageRef


@dataclass
class AlertClosed:
    """An alert whose buttons must go: resolved (`event` is the all-clear) or made obsolete (`why`, e.g.
    the phase was rolled back)."""

    incident_id: str
    phase: str
    event: AlertEvent | None = None
    why: str = ""
