"""What ChatOps hands back to a transport: plain data, rendered by Slack blocks or Teams cards.

Besides these, `StatusOverview` (bot.runs.status), `RunOutcome` (bot.runs.service) and `RolloutResult`
(bot.rollout.models) are replies too.

A new reply type that only says something subclasses `Notice` (its `message`, plus whatever fields it
needs): every transport then renders it, and delivers it privately, as a notice, without a line
elsewhere (the renderers dispatch on the type's MRO). Give it a renderer of its own only when it needs more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.rollout.models import RolloutResult
from bot.runs.service import RunOutcome
from bot.runs.status import StatusOverview
from bot.signoff.service import SignoffRequest
from bot.store import RunRecord
from checks.result import CheckResult
from checks.spec import SignoffStage
from checks.verdict import Verdict

WRITES_TITLE = "Written on the target by the checks"
"""The heading every transport puts over a verdict's `writes` (what each writing check changed, and its
cleanup), as `golive run` prints it: a reviewer sees in the chat what golive did to the service."""


@dataclass
class HelpReply:
    usage: list[tuple[str, str]]
    unknown: str | None = None
    problem: str | None = None
    services: list[str] = field(default_factory=list)  # the services, when the bot serves several


@dataclass
class HistoryReply:
    checklist: str
    runs: list[RunRecord] = field(default_factory=list)


@dataclass
class SignoffOpened:
    """A card for the stage's request; `reopened` when the request existed (decisions kept): transports
    point the previous card to the new one."""

    request: SignoffRequest
    stage: SignoffStage
    reopened: bool = False


@dataclass
class SignoffDecided:
    """The request as it now stands; `recorded` is False when the role had already been decided
    (a double click or a redelivery), so a transport can skip re-rendering."""

    request: SignoffRequest
    stage: SignoffStage
    role: str
    decision: Literal["approve", "reject", "withdraw"]
    recorded: bool


@dataclass
class RunBusy:
    """The same selector is already running; `running` is that run when it is known."""

    selector: str
    running: RunRecord | None = None

    @property
    def where(self) -> str:
        """Where the running run was started, as a person says it."""
        source = self.running.source if self.running else ""
        return {"cli": "from a terminal", "schedule": "by the scheduler"}.get(source, f"from {source}" if source
                                                                            else "elsewhere")

    @property
    def overlap(self) -> str | None:
        """The other selector when the run refused is not the one running but shares checks with it."""
        if self.running is not None and self.running.selector != self.selector:
            return self.running.selector
        return None


@dataclass
class Denied:
    """The access table refused the action (already audited); `reason` is safe to show the user."""

    action: str
    reason: str


@dataclass
class CheckConfirmed:
    """A person confirmed what a check could not (e.g. the Sentry event arrived); the run's verdict as
    it now stands (None while the run is still going). `recorded` is False when someone already had."""

    run: RunRecord
    results: list[CheckResult]
    verdict: Verdict | None
    check_id: str
    recorded: bool


@dataclass
class Failed:
    """The request could not be carried out (unknown phase, bad stage, store down); safe to show."""

    message: str


@dataclass
class Notice:
    """A one-line answer (e.g. from the rollout hook)."""

    message: str


@dataclass
class ServicesOverview(Notice):
    """`status` where no service is chosen, in a bot serving several: one line per service (verdict, rollout
    phase, open incidents, missing sign-offs); `message` is the whole of it as plain lines."""

    lines: list[str] = field(default_factory=list)


Reply = (HelpReply | HistoryReply | SignoffOpened | SignoffDecided | RunBusy | Denied | Failed | Notice
         | CheckConfirmed | RunOutcome | StatusOverview)


def reply_type(name: str) -> type:
    """The reply class a verb declaration names (`bot.chatops.commands.Verb.replies`)."""
    types: dict[str, type] = {t.__name__: t for t in (
        HelpReply, HistoryReply, SignoffOpened, SignoffDecided, RunBusy, Denied, Failed, Notice, CheckConfirmed,
        RunOutcome, StatusOverview, RolloutResult)}
    if name not in types:
        raise LookupError(f"no reply type {name!r}; replies: {', '.join(sorted(types))}")
    return types[name]
