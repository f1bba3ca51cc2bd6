"""ChatOps: executes parsed commands and button decisions for any transport, returning plain replies.

Every action passes `bot.access.authorize` first; runs take a lock per selector so the same phase
never runs twice at once, whichever transport or replica asked.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from bot.access import AccessDecision, Action, Target, authorize, unlisted_verb_actions
from bot.announcements.events import Notifier
from bot.authority.breakglass import BreakGlassError, acknowledge
from bot.chatops.actor import Actor
from bot.chatops.commands import Command, FreezeCommand, HelpCommand, declared, usage, verb_of
from bot.chatops.directory import Directory
from bot.chatops.replies import (
    CheckConfirmed,
    Denied,
    Failed,
    HelpReply,
    HistoryReply,
    Notice,
    Reply,
    RunBusy,
    SignoffDecided,
    SignoffOpened,
)
from bot.coordination.locks import LocalLocks, LockBusy, Locks, LockUnavailable, holding_all
from bot.policy.freeze import FreezeError, FreezeService, parse_until
from bot.policy.waivers import WaiverError, WaiverService, active_waivers
from bot.runs.durable import RunIncomplete, reap
from bot.runs.service import ProgressCallback, execute_run
from bot.runs.status import build_status
from bot.signoff.service import OneRolePerPerson, SignoffRequest, SignoffService
from bot.store import RunRecord, Store, StoreUnavailable
from checks.loader import select_checks
from checks.masking import mask
from checks.result import utcnow
from checks.runner import Runner
from checks.spec import Checklist
from checks.target_env import SettingsError
from checks.verdict import decide

if TYPE_CHECKING:
    from bot.rollout.service import RolloutService

log = logging.getLogger("golive.chatops")
P = ParamSpec("P")
R = TypeVar("R")

RolloutHook = Callable[[str, str, str], Awaitable[str | None]]
"""(action, phase, user_id) → an optional message for the clicker; supplied by the rollout area."""

Handler = Callable[[Any, Actor, "RunHooks"], Awaitable[Reply]]


def store_down(exc: StoreUnavailable) -> Failed:
    """What a person is told when the store cannot record their request: nothing happened, try again."""
    if isinstance(exc, RunIncomplete):
        return Failed(str(exc))
    return Failed(f"I could not record that, so nothing changed: {exc}. Please try again in a moment.")


def store_down_is_failed(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Failed]]:
    """Transports call these methods directly (not through `execute`): a store outage must come back
    as a Failed reply with the reason, never as an exception the transport drops silently."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Failed:
        try:
            return await method(*args, **kwargs)
        except StoreUnavailable as exc:
            return store_down(exc)

    return wrapper


@dataclass
class RunHooks:
    """How a transport follows a run: the run record once created, then each result as it lands."""

    on_created: Callable[[RunRecord], Awaitable[None]] | None = None
    on_result: ProgressCallback | None = None


class ChatOps:
    def __init__(self, store: Store, checklist: Checklist, *, locks: Locks | None = None, concurrency: int = 16,
                 directories: dict[str, Directory] | None = None,
                 runner_factory: Callable[[], Runner] | None = None) -> None:
        self.store = store
        self.checklist = checklist
        self.locks = locks or LocalLocks()
        self.directories = dict(directories or {})
        self.runner_factory = runner_factory or (lambda: Runner(checklist, concurrency=concurrency))
        self.handlers: dict[type, Handler] = {
            verb.command: functools.partial(verb.handler, self) for verb in declared() if verb.command is not None}
        if unlisted := unlisted_verb_actions():  # refused to everyone (fail closed); say why once, loudly
            log.error("chat verbs whose access action has no row in bot.access.ACCESS, so nobody may use them: %s",
                      ", ".join(f"{verb} ({action or 'no action'})" for verb, action in unlisted.items()))
        self.rollout: RolloutService | None = None  # promote/rollback/resume/pause; `bot.rollout.chat.install`
        self.notifier: Notifier | None = None  # the release channel(s), for witnessing the audit head

    # -- dispatch ------------------------------------------------------------------------------
    def register_handler(self, command_type: type, handler: Handler) -> None:
        """Replace the declared handler of a command type (`bot.chatops.commands`) on this instance."""
        self.handlers[command_type] = handler

    async def execute(self, command: Command, actor: Actor, hooks: RunHooks | None = None) -> Reply:
        """Run the handler the command's verb declares (`bot.chatops.commands.VERBS`)."""
        handler = self.handlers.get(type(command))
        if handler is None and (verb := verb_of(command)) is not None:  # declared after this instance was built
            handler = functools.partial(verb.handler, self)
        if handler is None:
            return await self.help(HelpCommand(unknown=type(command).__name__))
        try:
            return await handler(command, actor, hooks or RunHooks())
        except StoreUnavailable as exc:
            return store_down(exc)

    async def allowed(self, actor: Actor, action: str, target: Target = Target()) -> AccessDecision:
        return await authorize(self.store, self.checklist, actor, action, target,
                               directory=self.directories.get(actor.transport))

    async def _denied(self, actor: Actor, action: str, target: Target = Target()) -> Denied | None:
        decision = await self.allowed(actor, action, target)
        return None if decision.allowed else Denied(str(action), decision.reason)

    async def rollout_not_configured(self) -> Reply:
        """A rollout verb before the rollout area installed its service (no `rollout:` plan)."""
        return Failed(f"{self.checklist.name} has no `rollout:` section (phases and their flags); add one to the "
                      "checklist to promote or roll back")

    # -- read-only commands ----------------------------------------------------------------------
    async def help(self, command: HelpCommand) -> HelpReply:
        return HelpReply(usage=usage(), unknown=command.unknown, problem=command.problem)

    async def status(self, actor: Actor) -> Reply:
        if denied := await self._denied(actor, Action.STATUS):
            return denied
        return await asyncio.to_thread(build_status, self.store, self.checklist)

    async def history(self, actor: Actor, limit: int = 10) -> Reply:
        if denied := await self._denied(actor, Action.HISTORY):
            return denied
        runs = await asyncio.to_thread(self.store.runs, checklist=self.checklist.name, limit=limit)
        return HistoryReply(checklist=self.checklist.name, runs=runs)

    # -- runs ------------------------------------------------------------------------------------
    def unknown_selector(self, selector: str) -> str:
        """What to say about a selector that names nothing, for any transport (no terminal command in it)."""
        phases = [p.id for p in self.checklist.phases]
        names = ["all", *phases, *(c.id for c in self.checklist.all_checks())]
        hint = difflib.get_close_matches(selector, names, n=3)
        suggestion = f" Did you mean {', '.join(f'`{h}`' for h in hint)}?" if hint else ""
        return (f"`{selector}` is neither a phase nor a check of {self.checklist.name}.{suggestion} Run a phase "
                f"({', '.join(f'`{p}`' for p in phases)}), `all`, a check id or a glob like `smoke.*`.")

    def run_lock_key(self, selector: str) -> str:
        return f"run:{self.checklist.name}:{selector}"

    def run_lock_keys(self, selector: str, check_ids: list[str]) -> list[str]:
        """The selector's lock and one per check: `run all` and `run day3` share checks, so they exclude
        each other, whichever transport (or terminal) started either."""
        return [self.run_lock_key(selector), *(f"check:{self.checklist.name}:{c}" for c in check_ids)]

    @store_down_is_failed
    async def run(self, actor: Actor, selector: str, hooks: RunHooks | None = None) -> Reply:
        """Run a selector unless a run sharing its checks is going; a store outage is a Failed reply."""
        return await self.start_run(actor, selector, hooks)

    async def start_run(self, actor: Actor, selector: str, hooks: RunHooks | None = None) -> Reply:
        """`run`, but a store outage raises StoreUnavailable (the terminal exits 3 on it: nothing decided).
        The run id doubles as the lock token."""
        if denied := await self._denied(actor, Action.RUN, Target(subject=selector)):
            return denied
        try:
            checks = select_checks(self.checklist, selector)
        except LookupError:
            return Failed(self.unknown_selector(selector))
        hooks = hooks or RunHooks()
        run_id = uuid.uuid4().hex[:16]
        try:
            async with holding_all(self.locks, self.run_lock_keys(selector, [c.id for c in checks]), run_id):
                return await execute_run(self.store, self.checklist, selector, requested_by=actor.user_id,
                                         source=actor.transport, runner=self.runner_factory(), run_id=run_id,
                                         on_created=hooks.on_created, on_result=hooks.on_result)
        except LockBusy as busy:
            running = await asyncio.to_thread(self.store.get_run, busy.holder) if busy.holder else None
            return RunBusy(selector=selector, running=running)
        except LockUnavailable as exc:
            return Failed(str(exc))
        except SettingsError as exc:
            return Failed(f"cannot read the target's settings: {mask(str(exc))}")
        except ValueError as exc:
            return Failed(mask(str(exc)))

    async def reap_orphaned_runs(self) -> list[RunRecord]:
        """Mark interrupted the runs still 'running' whose owner's heartbeat has expired (their process
        died), whatever started them, the CLI included. Locks play no part: a replica that cannot see
        Redis (or the lock) never interrupts another replica's live run (bot.store.Store.reap_expired_runs)."""
        return await reap(self.store, checklist=self.checklist.name)

    # -- sign-offs -------------------------------------------------------------------------------
    def signoffs(self) -> SignoffService:
        return SignoffService(self.store, self.checklist)

    @store_down_is_failed
    async def open_signoff(self, actor: Actor, stage: str) -> Reply:
        if denied := await self._denied(actor, Action.SIGNOFF_REQUEST, Target(subject=stage, stage=stage)):
            return denied
        service = self.signoffs()
        try:
            stage_spec = service.stage(stage)
        except LookupError as exc:
            return Failed(str(exc).strip("'\""))
        latest = await asyncio.to_thread(self.store.runs, checklist=self.checklist.name, limit=1)
        request, reopened = await asyncio.to_thread(service.request_card, stage, requested_by=actor.user_id,
                                                    run_id=latest[0].id if latest else None)
        return SignoffOpened(request=request, stage=stage_spec, reopened=reopened)

    async def signoff_request(self, request_id: str) -> SignoffRequest | None:
        return await asyncio.to_thread(self.signoffs().get, request_id)

    @store_down_is_failed
    async def check_signoff(self, actor: Actor, request_id: str, role: str,
                            decision: Literal["approve", "reject", "withdraw"]) -> Denied | Failed | None:
        """Whether `actor` may decide `role` on this request, without recording anything (a reject checks
        this before asking for the reason). Refusals are audited like any other."""
        service = self.signoffs()
        request = await asyncio.to_thread(service.get, request_id)
        if request is None:  # each service's store holds only its own requests (bot.store.Store.for_service)
            return Failed(f"this sign-off request no longer exists in {self.checklist.name} (or the card belongs "
                          "to another service); decide on the latest card in its own channel")
        if request.checklist != self.checklist.name:  # a card of another service never counts here
            return Failed(f"this sign-off card is for {request.checklist}, not {self.checklist.name}; "
                          "decide it on its own card")
        stage = service.stage(request.stage)
        if all(r.id != role for r in stage.roles):
            return Failed(f"{role} is not a role of the {request.stage} sign-off")
        latest = await asyncio.to_thread(service.latest, request.stage)
        if latest is not None and latest.id != request.id:
            return Failed("a newer sign-off card replaced this one; use the latest card")
        action = Action.SIGNOFF_WITHDRAW if decision == "withdraw" else Action.SIGNOFF_DECIDE
        target = Target(subject=request.id, stage=request.stage, role=role,
                        requested_by=frozenset({request.requested_by}),
                        decided_by={r: d.user_id for r, d in request.decisions.items()})
        return await self._denied(actor, action, target)

    @store_down_is_failed
    async def decide_signoff(self, actor: Actor, request_id: str, role: str,
                             decision: Literal["approve", "reject", "withdraw"], reason: str = "") -> Reply:
        """Approve, reject (with a reason) or withdraw one role's decision on a sign-off request."""
        if problem := await self.check_signoff(actor, request_id, role, decision):
            return problem
        service = self.signoffs()
        if decision == "withdraw":
            recorded = await asyncio.to_thread(service.withdraw, request_id, role, user_id=actor.user_id)
        elif decision == "reject" and not reason.strip():
            return Failed("a reject needs a reason")
        else:
            try:
                recorded = await asyncio.to_thread(service.record, request_id, role, decision, user_id=actor.user_id,
                                                   reason=reason.strip())
            except OneRolePerPerson as exc:  # a simultaneous click for another role won the race
                reason = (f"you already signed off as {exc.role} on this stage; one person fills at most one role "
                          f"per stage")
                await asyncio.to_thread(self.store.audit, actor=actor.user_id, action="access.denied",
                                        subject=request_id, detail={"action": "signoff.decide", "reason": reason,
                                                                    "role": role, "transport": actor.transport})
                return Denied(str(Action.SIGNOFF_DECIDE), reason)
        fresh = await asyncio.to_thread(service.get, request_id)
        assert fresh is not None
        return SignoffDecided(request=fresh, stage=service.stage(fresh.stage), role=role, decision=decision,
                              recorded=recorded)

    # -- waivers (bot.policy.waivers: the rules; here: access, then the reply) ---------------------------
    @store_down_is_failed
    async def waive(self, actor: Actor, check_id: str, duration: str, reason: str) -> Reply:
        subject = f"{self.checklist.name}:{check_id}"
        if denied := await self._denied(actor, Action.CHECK_WAIVE, Target(subject=subject)):
            return denied
        try:
            waiver = await asyncio.to_thread(WaiverService(self.store, self.checklist).grant, check_id, duration,
                                             reason, by=actor.user_id, transport=actor.transport)
        except WaiverError as exc:
            return Failed(str(exc))
        await self._witness(f"waive {check_id} by {actor.user_id}")
        return Notice(f"{check_id} {waiver.text()}. It is not a condition of the verdict until then; "
                      f"`unwaive {check_id}` revokes it.")

    @store_down_is_failed
    async def unwaive(self, actor: Actor, check_id: str) -> Reply:
        subject = f"{self.checklist.name}:{check_id}"
        if denied := await self._denied(actor, Action.CHECK_WAIVE, Target(subject=subject)):
            return denied
        try:
            await asyncio.to_thread(WaiverService(self.store, self.checklist).revoke, check_id, by=actor.user_id,
                                    transport=actor.transport)
        except WaiverError as exc:
            return Failed(str(exc))
        await self._witness(f"unwaive {check_id} by {actor.user_id}")
        return Notice(f"the waiver of {check_id} is revoked by {actor.user_id}: it counts in the verdict again.")

    async def _witness(self, why: str) -> None:
        """Post the audit chain head in the release channel(s) and keep it in the witness file
        (bot.authority.witness)."""
        from bot.authority.witness import witness

        try:
            await witness(self.store, self.notifier, why)
        except Exception as exc:  # the waiver is recorded and audited; a witness failure must not hide that
            log.warning("witnessing the audit head failed: %s", mask(str(exc)))

    # -- break-glass (bot.authority.breakglass): acknowledged by a role holder other than who broke the glass ----
    @store_down_is_failed
    async def acknowledge(self, actor: Actor, item_id: str) -> Reply:
        if denied := await self._denied(actor, Action.BREAK_GLASS_ACK, Target(subject=f"break_glass:{item_id}")):
            return denied
        try:
            item = await asyncio.to_thread(acknowledge, self.store, item_id, by=actor.user_id,
                                           transport=actor.transport)
        except BreakGlassError as exc:
            return Failed(str(exc))
        return Notice(f"break-glass {item.id} (`{item.verb}` by {item.os_user}@{item.host}) acknowledged by "
                      f"{actor.user_id}")

    # -- release freezes (bot.policy.freeze: the rules; here: access, then the reply) --------------------
    @store_down_is_failed
    async def freeze(self, actor: Actor, command: FreezeCommand) -> Reply:
        try:
            service = FreezeService(self.store, self.checklist)
            if command.action == "show":
                active = await asyncio.to_thread(service.active)
                lines = [f.text() + (" (overridden)" if service.overridden(f) else "") for f in active]
                return Notice("; ".join(lines) if lines else "no release freeze is in force")
            if command.action == "override":
                done = await service.override(actor, command.reason, directory=self.directories.get(actor.transport))
                return Notice(f"override signed by {actor.user_id}: promotions allowed during "
                              + "; ".join(f.text() for f in done))
            if denied := await self._denied(actor, Action.ROLLOUT_FREEZE, Target(subject=self.checklist.name)):
                return denied
            if command.action == "lift":
                await service.lift(actor, directory=self.directories.get(actor.transport))
                return Notice(f"declared freeze lifted by {actor.user_id}")
            until = parse_until(command.until, utcnow())
            declared = await asyncio.to_thread(service.declare, until, command.reason, by=actor.user_id,
                                               transport=actor.transport)
            return Notice(f"{declared.text()}: promotions are refused until then")
        except FreezeError as exc:
            return Failed(str(exc))

    # -- manual confirmation (a check that needs a person, e.g. "the Sentry event arrived") --------
    @store_down_is_failed
    async def confirm_check(self, actor: Actor, run_id: str, check_id: str) -> Reply:
        """Record a person's confirmation once, then recompute the run's verdict with it."""
        if denied := await self._denied(actor, Action.CHECK_CONFIRM, Target(subject=f"{run_id}:{check_id}")):
            return denied
        run = await asyncio.to_thread(self.store.get_run, run_id)
        results = await asyncio.to_thread(self.store.results, run_id) if run else []
        result = next((r for r in results if r.check_id == check_id), None)
        if run is None or result is None:
            return Failed(f"no result of {check_id} in run {run_id}; run the check again")
        recorded = False
        if result.needs_confirmation:
            evidence = {**result.evidence, "confirmed_by": actor.user_id, "confirmed_at": utcnow().isoformat()}
            recorded = await asyncio.to_thread(
                self.store.confirm_result, run_id, check_id,
                summary=f"confirmed by {actor.user_id}: {result.summary}", evidence=evidence)
        if recorded:
            await asyncio.to_thread(self.store.audit, actor=actor.user_id, action="check.confirmed",
                                    subject=run_id, detail={"check": check_id, "transport": actor.transport})
        results = await asyncio.to_thread(self.store.results, run_id)
        verdict = None
        if run.status == "finished":  # a run still going counts the confirmation in its own verdict
            expected = [spec for cid in run.expected if (spec := self.checklist.check(cid)) is not None]
            waivers = await asyncio.to_thread(active_waivers, self.store, self.checklist)
            verdict = decide(expected, {r.check_id: r for r in results}, waivers=waivers)  # never stale
            if recorded:
                await asyncio.to_thread(self.store.finish_run, run_id, verdict, wall_ms=run.wall_ms)
        fresh = await asyncio.to_thread(self.store.get_run, run_id)
        assert fresh is not None
        return CheckConfirmed(run=fresh, results=results, verdict=verdict, check_id=check_id, recorded=recorded)

    # -- rollout buttons (business logic lives in the rollout area, behind a hook) ---------------
    @store_down_is_failed
    async def rollout_action(self, actor: Actor, action: Literal["rollback", "keep_going"], phase: str,
                             hook: RolloutHook | None) -> Reply:
        access = Action.ROLLOUT_ROLLBACK if action == "rollback" else Action.ROLLOUT_KEEP_GOING
        if denied := await self._denied(actor, access, Target(subject=phase)):
            return denied
        if hook is None:
            return Notice("rollout is not configured in this bot, so nothing was changed")
        message = await hook(action, phase, actor.user_id)
        return Notice(message or f"{action.replace('_', ' ')} requested for {phase}")
