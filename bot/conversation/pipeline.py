"""One inbound pipeline for every transport: dedupe → identify → access → execute → reply.

A transport only adapts: it turns a slash command, a message activity or a button click into an
`Inbound` (who, what, the key a redelivery repeats, and a `ReplySink` that knows how to show a reply
there) and hands it to `InboundPipeline.handle`. Everything else is written here once, so Slack, Teams
and the in-memory transport cannot drift apart: a redelivery is dropped, a refusal is private and audited,
a failure the person could not have caused is told to them in one honest line (never "internal error"
for a throttled platform), and retries/pacing are the conversation layer's (bot.conversation.base).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.access import Action, Target
from bot.chatops.actor import Actor
from bot.chatops.commands import (
    AcknowledgeCommand,
    HelpCommand,
    HistoryCommand,
    RunCommand,
    SignoffCommand,
    StatusCommand,
    UnwaiveCommand,
    WaiveCommand,
    usage,
)
from bot.chatops.commands import action_of as declared_action
from bot.chatops.replies import Denied, Failed, HelpReply, Reply, ServicesOverview
from bot.chatops.service import ChatOps, RolloutHook, RunHooks
from bot.conversation.dedupe import first_delivery
from bot.conversation.routing import Overview, Routed, route_click, route_text, service_line
from bot.conversation.tasks import TaskTracker
from bot.services.desk import Desk
from bot.services.registry import Service
from bot.signoff.service import SignoffRequest
from checks.masking import mask

log = logging.getLogger("golive.conversation")

Decision = Literal["approve", "reject", "withdraw"]


# -- what a click asks for (a typed command, like the ones parsed from text) ---------------------------
@dataclass(frozen=True)
class SignoffClick:
    """Approve / reject (with its reason) / withdraw one role on a sign-off card."""

    request: str
    role: str
    decision: Decision
    reason: str = ""


@dataclass(frozen=True)
class RejectFormClick:
    """Reject pressed where the reason is asked in a form (Slack's modal): may this person reject?"""

    request: str
    role: str


@dataclass(frozen=True)
class RolloutClick:
    action: Literal["rollback", "keep_going"]
    phase: str


@dataclass(frozen=True)
class ConfirmClick:
    run: str
    check: str


@dataclass(frozen=True)
class BrokenClick:
    """A button whose data is incomplete (an old or tampered card): said as such, nothing executed."""

    problem: str


@dataclass
class RejectFormAllowed:
    """The reply to a `RejectFormClick` that passed access: the transport opens its form for the reason."""

    request: SignoffRequest
    role: str
    role_title: str
    stage_title: str


OVERVIEW_CONCURRENCY = 8
"""Services whose status lines are read at once for the overview (each is a few store queries in a thread)."""

CLICKS = (SignoffClick, RejectFormClick, RolloutClick, ConfirmClick, BrokenClick)


# -- the access step --------------------------------------------------------------------------------------
def action_of(command: Any) -> str | None:
    """The access action of a request: a chat verb's is declared with the verb (`bot.chatops.commands`); a
    button click's is the action its card offers. "" (no declaration) is refused by the access table."""
    if isinstance(command, RolloutClick):
        return Action.ROLLOUT_ROLLBACK if command.action == "rollback" else Action.ROLLOUT_KEEP_GOING
    if isinstance(command, ConfirmClick):
        return Action.CHECK_CONFIRM
    return declared_action(command)


def target_of(command: Any, checklist: str) -> Target | None:
    """What the command is about, as the audit log names it; None when access depends on stored state the
    execute step reads anyway (which role of which card, which freeze, the rollout's own gate)."""
    if isinstance(command, HelpCommand | StatusCommand | HistoryCommand):
        return Target()
    if isinstance(command, RunCommand):
        return Target(subject=command.selector)
    if isinstance(command, SignoffCommand):
        return Target(subject=command.stage, stage=command.stage)
    if isinstance(command, WaiveCommand | UnwaiveCommand):
        return Target(subject=f"{checklist}:{command.check_id}")
    if isinstance(command, AcknowledgeCommand):
        return Target(subject=f"break_glass:{command.break_glass_id}")
    if isinstance(command, ConfirmClick):
        return Target(subject=f"{command.run}:{command.check}")
    if isinstance(command, RolloutClick):
        return Target(subject=command.phase)
    return None


# -- where a reply goes ------------------------------------------------------------------------------------
class ReplySink(ABC):
    """How one transport shows the reply to one request (in the channel, privately, as an invoke answer)."""

    def run_hooks(self) -> RunHooks | None:
        """Hooks to follow a run live (None: the outcome is shown once it is known)."""
        return None

    async def interrupted(self) -> None:
        """The run this request started was cancelled (shutdown): say so where it was shown."""
        return None

    @abstractmethod
    async def deliver(self, reply: Any) -> None:
        """Show `reply`; a transport falls back (privately, plainer) rather than raise."""


@dataclass
class Inbound:
    """A request from any transport, already read from its payload."""

    transport: str
    user: str
    command: Any  # a parsed chat Command or one of the clicks above
    dedupe_key: str  # the same for a redelivery of this request, different for a new one; "" never dedupes
    sink: ReplySink
    channel: str | None = None  # where it was asked (Slack channel id, Teams conversation id): its mapped service
    text: str | None = None  # the command as typed, when typed: a first argument may name the service
    service: str | None = None  # the service a clicked button names (None: an older card, the default service)


def failure_line(exc: BaseException) -> str:
    """One honest line for a failure the person did not cause: what kind, that nothing is hidden."""
    status = getattr(exc, "status", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if status == 429:
        return "the chat service is throttling golive (HTTP 429); please try again in a minute"
    if isinstance(status, int) and status >= 500:
        return f"the chat service answered HTTP {status}; please try again in a minute"
    return f"golive could not finish this ({mask(type(exc).__name__)}); it is logged. Please try again"


class InboundPipeline:
    """Over a `Desk` of services (or one ChatOps, a desk of one): each request runs on its service's ChatOps
    (bot.conversation.routing), with the service named while its reply is drawn (its buttons carry it)."""

    def __init__(self, chatops: ChatOps | Desk, *, rollout_hook: Callable[[], RolloutHook | None] = lambda: None,
                 tasks: TaskTracker | None = None) -> None:
        self.desk = chatops if isinstance(chatops, Desk) else Desk.of(chatops)
        self.chatops = self.desk.default
        self.rollout_hook = rollout_hook  # read at each click: the rollout area may install it later
        self.tasks = tasks or TaskTracker()

    async def handle(self, request: Inbound) -> Any:
        """The whole request; returns the reply it showed, or None for a redelivery."""
        if not await first_delivery(self.chatops.locks, request.transport, request.dedupe_key):
            return None
        self.tasks.track_current()
        actor = Actor(user_id=request.user, transport=request.transport)
        routed = self.route(request)
        service = routed.service if isinstance(routed, Routed) else None
        with self.desk.serving(service) if service is not None else contextlib.nullcontext():
            try:
                if isinstance(routed, Failed):
                    reply: Any = routed
                elif isinstance(routed, Overview):
                    reply = await self.overview(actor)
                else:
                    ops, command = self.desk.ops(routed.service), routed.command
                    reply = await self.admit(actor, command, ops)
                    if reply is None:
                        reply = await self.execute(actor, command, request.sink, ops)
                    reply = self.with_services(reply)
            except asyncio.CancelledError:
                await request.sink.interrupted()
                raise
            except Exception as exc:  # honest failure: the person hears it, the log has the detail (masked)
                log.error("%s: %s failed: %s", request.transport, type(request.command).__name__,
                          mask(f"{type(exc).__name__}: {exc}"))
                reply = Failed(failure_line(exc))
            await request.sink.deliver(reply)
        return reply

    def route(self, request: Inbound) -> Routed | Overview | Failed:
        """The service the request is for (bot.conversation.routing); a bot of one always has it."""
        if request.text is not None:
            return route_text(self.desk, request.text, request.command, request.channel)
        routed = route_click(self.desk, request.service)
        if isinstance(routed, Routed) and request.service is None and not isinstance(request.command, CLICKS):
            mapped = self.desk.registry.for_channel(request.channel)  # a command built by the transport
            return Routed(mapped or routed.service, request.command)
        return Routed(routed.service, request.command) if isinstance(routed, Routed) else routed

    def with_services(self, reply: Any) -> Any:
        """Help names the service argument, and the services, when the bot serves several."""
        if isinstance(reply, HelpReply) and self.desk.several:
            return replace(reply, usage=usage(services=True), services=self.desk.registry.names)
        return reply

    async def overview(self, actor: Actor) -> Reply:
        """`status` where no service is chosen: one line per service the asker may see."""
        limit = asyncio.Semaphore(OVERVIEW_CONCURRENCY)

        async def line(service: Service, ops: ChatOps) -> str | None:
            async with limit:
                if not (await ops.allowed(actor, Action.STATUS, Target())).allowed:
                    return None
                return await service_line(service, ops)

        found = await asyncio.gather(*(line(service, ops) for service, ops in self.desk.each()))
        lines = [each for each in found if each is not None]
        if not lines:
            return Denied(str(Action.STATUS), "you may not see the status of any service here")
        head = f"{len(lines)} services — `/golive status <service>` for one in full:"
        return ServicesOverview("\n".join([head, *lines]), lines=lines)

    async def admit(self, actor: Actor, command: Any, ops: ChatOps | None = None) -> Denied | None:
        """The access step: refused (and audited) before anything runs, for what the command alone decides."""
        ops = ops or self.chatops
        action, target = action_of(command), target_of(command, ops.checklist.name)
        if action is None or target is None:
            return None
        decision = await ops.allowed(actor, action, target)
        return None if decision.allowed else Denied(str(action), decision.reason)

    async def execute(self, actor: Actor, command: Any, sink: ReplySink,
                      ops: ChatOps | None = None) -> Reply | RejectFormAllowed:
        chatops = ops or self.chatops
        if isinstance(command, SignoffClick):
            return await chatops.decide_signoff(actor, command.request, command.role, command.decision,
                                                reason=command.reason)
        if isinstance(command, RejectFormClick):
            return await self.reject_form(actor, command, chatops)
        if isinstance(command, RolloutClick):
            return await chatops.rollout_action(actor, command.action, command.phase, self.hook_of(chatops))
        if isinstance(command, ConfirmClick):
            return await chatops.confirm_check(actor, command.run, command.check)
        if isinstance(command, BrokenClick):
            return Failed(command.problem)
        return await chatops.execute(command, actor, sink.run_hooks())

    def hook_of(self, ops: ChatOps) -> RolloutHook | None:
        """The rollout hook of the service: the transport's for the default one (as before services), the
        service's own rollout runtime for the others."""
        if ops is self.chatops:
            return self.rollout_hook()
        return ops.rollout.action_hook if ops.rollout is not None else None

    async def reject_form(self, actor: Actor, click: RejectFormClick,
                          ops: ChatOps | None = None) -> Reply | RejectFormAllowed:
        ops = ops or self.chatops
        problem = await ops.check_signoff(actor, click.request, click.role, "reject")
        if problem is not None:
            return problem
        request = await ops.signoff_request(click.request)
        if request is None:
            return Failed("this sign-off request no longer exists")
        stage = ops.signoffs().stage(request.stage)
        title = next((r.title for r in stage.roles if r.id == click.role), click.role)
        return RejectFormAllowed(request=request, role=click.role, role_title=title,
                                 stage_title=stage.title or request.stage)
