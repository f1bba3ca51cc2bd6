"""Promote, roll back, pause and resume a rollout. One entry point whoever asks (CLI, Slack button,
the watch): the gate decides, the flag provider flips and is read back, the store records, the audit
log keeps every attempt, and the notifier announces. One change at a time per checklist (a lock)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.announcements.events import AlertEvent, Announcement, AnnouncementKind, Notifier
from bot.announcements.events import rollout_subject as subject_of
from bot.coordination.locks import LocalLocks, LockBusy, Locks, LockUnavailable, holding
from bot.policy.freeze import freeze_reasons
from bot.policy.waivers import active_waivers
from bot.rollout.gate import gate_reasons, phase_verdict
from bot.rollout.incidents import IncidentStore
from bot.rollout.models import NO_PHASE, RolloutResult, apply_spec
from bot.rollout.providers import (
    FlagProvider,
    ProviderError,
    StatefulProvider,
    apply_flags,
    flag_reader,
    flag_text,
    percentage_problems,
    stateful,
)
from bot.rollout.records import RolloutRecords
from bot.signoff.service import SignoffService
from bot.store import Store
from checks.argv import command_argv
from checks.bounded import CapExceeded
from checks.interpolate import MissingVariable, interpolate
from checks.kinds.flags import EffectiveError, effective_probe, normalise_flag, read_effective, shown
from checks.masking import mask
from checks.process import run_process
from checks.registry import FlagReader
from checks.spec import Checklist, FlagValue, Rollout, RolloutPhase
from checks.verdict import Decision

AfterChange = Callable[[str | None], Awaitable[None]]
log = logging.getLogger("golive.rollout")


def rollback_plan(rollout: Rollout, current: str) -> tuple[RolloutPhase | None, dict[str, FlagValue]]:
    """The phase before `current` (None before the first) and the flag values that restore it: every flag
    the current or previous phase names takes the previous phase's value, or off."""
    ids = [p.id for p in rollout.phases]
    index = ids.index(current)
    target = rollout.phases[index - 1] if index > 0 else None
    names = list(rollout.phases[index].flags)
    names += [n for n in (target.flags if target else {}) if n not in names]
    if target is None:
        names += [n for p in rollout.phases for n in p.flags if n not in names]
    return target, {n: (target.flags.get(n, False) if target else False) for n in names}


class RolloutService:
    def __init__(self, store: Store, checklist: Checklist, provider: FlagProvider, *,
                 notifier: Notifier | None = None, locks: Locks | None = None,
                 max_check_age: timedelta | None = None, after_change: AfterChange | None = None,
                 env: Mapping[str, str] | None = None, target_url: str = "",
                 incidents: IncidentStore | None = None) -> None:
        if checklist.rollout is None or not checklist.rollout.phases:
            raise LookupError(f"{checklist.source_path or checklist.name} has no `rollout.phases`")
        problems = percentage_problems(checklist.rollout, provider)
        if problems:  # a percentage the provider cannot serve is a configuration mistake: refused at load
            raise ValueError(problems[0])
        self.store = store
        self.checklist = checklist
        self.rollout: Rollout = checklist.rollout
        self.provider = provider
        self.notifier = notifier
        self.locks = locks or LocalLocks()
        self.max_check_age = max_check_age or timedelta(minutes=self.rollout.max_check_age_minutes)
        self.after_change = after_change
        self.records = RolloutRecords(store, checklist.name)
        self.incidents: IncidentStore | None = incidents  # the watch's open incidents (Redis when shared)
        self.env = dict(env or {})
        self.target_url = target_url or checklist.target.base_url
        self.workdir = Path(checklist.source_path).resolve().parent if checklist.source_path else Path.cwd()
        self.apply = apply_spec(checklist)
        self.effective = effective_probe(self.rollout.effective, self.env)
        self._lock_key = f"rollout:{checklist.name}"

    # -- reading -------------------------------------------------------------------------------
    async def current_phase(self) -> str | None:
        return await asyncio.to_thread(self.records.phase)

    def phase(self, phase_id: str) -> RolloutPhase:
        phase = self.rollout.phase(phase_id)
        if phase is None:
            raise LookupError(f"unknown rollout phase {phase_id!r}; phases: "
                              f"{', '.join(p.id for p in self.rollout.phases)}")
        return phase

    def flag_reader(self) -> FlagReader:
        """For `Runner(flag_reader=...)`: the `flags` check then compares the plan with the provider."""
        return flag_reader(self.provider)

    async def deployment(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.records.deployment)

    # -- changing ------------------------------------------------------------------------------
    async def promote(self, phase_id: str, *, actor: str) -> RolloutResult:
        """Flip to `phase_id` if the gate holds; refused (with every reason) otherwise."""
        phase = self.phase(phase_id)
        return await self._locked("promote", phase.id, actor, lambda: self._promote(phase, actor))

    async def rollback(self, *, actor: str, reason: str = "") -> RolloutResult:
        """Back to the previous phase's flags (all off before the first phase)."""
        return await self._locked("rollback", None, actor, lambda: self._rollback(actor, reason))

    async def resume(self, *, actor: str) -> RolloutResult:
        """Clear a pause (`golive resume`, chat `resume`): refused while a P0 incident is still open."""

        async def act() -> RolloutResult:
            current = await self.current_phase()
            return await self._resume(actor, current or NO_PHASE)

        return await self._locked("resume", None, actor, act)

    async def hold(self, *, actor: str, reason: str = "") -> RolloutResult:
        """Pause at the current phase because a person asked (`golive pause`, chat `pause`): the same pause a
        P0 sets, audited and announced; `resume` lifts it. Nothing to do without an active phase."""

        async def act() -> RolloutResult:
            current = await self.current_phase()
            if current is None:
                return RolloutResult(False, "pause", None, message="nothing to pause: no rollout phase is active")
            held = await asyncio.to_thread(self.records.paused)
            if held:
                return RolloutResult(True, "pause", current, current, message=f"{current} is already paused "
                                     f"({held.get('reason', 'P0 alert')}): promotions are held until `resume`")
            why = reason.strip() or f"paused by {actor}"
            await self.pause(phase=current, reason=why, incident_id="", actor=actor)
            return RolloutResult(True, "pause", current, current, reasons=[why],
                                 message=f"{current} paused: promotions are held until `resume`")

        return await self._locked("pause", None, actor, act)

    async def handle_rollout_action(self, action: str, phase: str, user: str) -> RolloutResult:
        """What an alert's button does: `rollback` or `keep_going`, only while `phase` is still current."""
        if action not in ("rollback", "keep_going"):
            raise ValueError(f"unknown rollout action {action!r}; expected rollback or keep_going")

        async def act() -> RolloutResult:
            current = await self.current_phase()
            if current != phase:
                reason = f"{phase} is no longer the current phase (now {current or NO_PHASE}): nothing done"
                await self._audit(user, "rollout.action_stale", phase, {"action": action, "reason": reason})
                return RolloutResult(False, action, current, reasons=[reason], message=reason)
            if action == "rollback":
                return await self._rollback(user, f"rolled back from the alert by {user}")
            return await self._resume(user, phase)

        return await self._locked(action, phase, user, act)

    async def action_hook(self, action: str, phase: str, user: str) -> str:
        """`handle_rollout_action` as ChatOps' RolloutHook: what the person who clicked is told."""
        return (await self.handle_rollout_action(action, phase, user)).message

    async def pause(self, *, phase: str, reason: str, incident_id: str, actor: str = "golive-watch") -> None:
        """Hold further promotions until someone chooses Keep going or Roll back (a P0 on an on_p0: pause phase)."""
        value = {"phase": phase, "reason": reason, "incident": incident_id, "at": datetime.now(UTC).isoformat()}
        await asyncio.to_thread(self.records.set_paused, value)
        await asyncio.to_thread(self.records.add_event, "pause", phase=phase, from_phase=phase, actor=actor,
                                ok=True, reasons=[reason])
        await self._audit(actor, "rollout.paused", phase, value)
        await self._announce("paused", phase, actor, reasons=[reason])

    # -- internals -----------------------------------------------------------------------------
    async def _locked(self, action: str, phase: str | None, actor: str,
                      body: Callable[[], Awaitable[RolloutResult]]) -> RolloutResult:
        try:
            async with holding(self.locks, self._lock_key, f"{action}:{actor}:{uuid.uuid4().hex[:8]}"):
                return await body()
        except LockBusy as exc:
            reason = f"another promote/rollback is in progress ({exc.holder or 'someone else'})"
        except LockUnavailable as exc:
            reason = str(exc)
        current = await self.current_phase()
        return await self._refuse(action, phase or current, current, actor, [reason])

    async def _promote(self, phase: RolloutPhase, actor: str) -> RolloutResult:
        current = await self.current_phase()
        latest = await asyncio.to_thread(self.store.latest_results, self.checklist.name)
        signoffs = await asyncio.to_thread(SignoffService(self.store, self.checklist).state,
                                           list(phase.requires_signoff))
        paused = await asyncio.to_thread(self.records.paused)
        waivers = await asyncio.to_thread(active_waivers, self.store, self.checklist)
        now = datetime.now(UTC)
        verdict = phase_verdict(self.checklist, phase, latest, signoffs, waivers, now)
        frozen = await asyncio.to_thread(freeze_reasons, self.store, self.checklist, now)
        reasons = gate_reasons(self.checklist, phase, current=current, verdict=verdict, latest=latest,
                               signoffs=signoffs, paused=paused, max_age=self.max_check_age, now=now, frozen=frozen)
        planned = {k: flag_text(v) or "" for k, v in phase.flags.items()}
        if reasons:
            return await self._refuse("promote", phase.id, current, actor, reasons, flags=planned)
        conditions = [f"{verdict.decision.label}: {c}" for c in verdict.conditions] \
            if verdict.decision is Decision.CONDITIONAL else []
        keeper = stateful(self.provider)
        before: dict[str, Any] | None = None
        if keeper is not None:
            try:
                pending = await self._finish_restore(keeper)
                before = await keeper.snapshot(self._flag_names())
            except ProviderError as exc:  # nothing written yet: a bad token or an unreachable service
                return await self._fail(phase.id, current, actor, [f"{mask(str(exc))}; nothing was changed"],
                                        planned)
            if pending:
                return await self._fail(phase.id, current, actor, pending, planned)
            drift = await self._drift(keeper, before)
            if drift:
                return await self._refuse("promote", phase.id, current, actor, drift, flags=planned)
            await asyncio.to_thread(self.records.set_before, phase.id, before)
        flags, problems = await self._flip(phase.flags)
        if not problems:
            problems = await self._apply(phase.flags)
        if problems and keeper is not None and before is not None:
            undo, changed = await self._restore(keeper, before)
            if not changed:
                problems.append("nothing was changed")
            elif undo:
                await asyncio.to_thread(self.records.set_unrestored, {"phase": phase.id, "state": before})
                problems.append("the flags' state is UNKNOWN: restoring their state from before the promotion "
                                f"failed ({'; '.join(undo)}); golive restores it first thing on the next promotion "
                                f"or rollback, once {keeper.description} answers (or check the flags by hand)")
            else:
                restored = await self._read_text(list(before))
                undo = await self._apply(restored)
                problems.append("flags restored exactly as they were before the promotion (strategies included)"
                                + (", but: " + "; ".join(undo) if undo else ""))
        elif problems:
            previous = self.rollout.phase(current) if current else None
            restore: Mapping[str, FlagValue] = previous.flags if previous else {n: False for n in phase.flags}
            try:
                await self.provider.write(restore)
            except ProviderError as exc:
                problems.append(f"restoring {current or 'the previous flags'} failed too: {exc}")
            else:
                undo = await self._apply(restore)
                problems.append(f"flags reverted to {current or 'all off'}" if not undo
                                else f"flags reverted to {current or 'all off'}, but: " + "; ".join(undo))
        if problems:
            await asyncio.to_thread(self.records.add_event, "promote", phase=phase.id, from_phase=current,
                                    actor=actor, ok=False, flags=flags, reasons=problems)
            await self._audit(actor, "rollout.promote_failed", phase.id, {"from": current, "reasons": problems})
            await self._announce("refused", phase.id, actor, reasons=problems, previous=current, flags=flags)
            return RolloutResult(False, "promote", current, current, reasons=problems, flags=flags, failed=True,
                                 message=f"promotion to {phase.id} failed: " + "; ".join(problems))
        await self._record_applied(phase.id, flags)
        await asyncio.to_thread(self.records.set_phase, phase.id)
        await asyncio.to_thread(self.records.add_event, "promote", phase=phase.id, from_phase=current,
                                actor=actor, ok=True, flags=flags)
        await self._audit(actor, "rollout.promoted", phase.id, {"from": current, "flags": flags,
                                                                "conditions": conditions})
        await self._announce("promoted", phase.id, actor, previous=current, flags=flags, reasons=conditions)
        await self._witness(f"promoted {phase.id} by {actor}", phase.id)
        await self._changed(phase.id)
        return RolloutResult(True, "promote", phase.id, current, flags=flags, reasons=conditions,
                             message=f"promoted {phase.id}: " + ", ".join(f"{k}={v}" for k, v in flags.items()))

    async def _rollback(self, actor: str, reason: str) -> RolloutResult:
        current = await self.current_phase()
        if current is None or self.rollout.phase(current) is None:
            return await self._refuse("rollback", current, current, actor,
                                      ["nothing to roll back: no rollout phase is active"])
        target, plan = rollback_plan(self.rollout, current)
        new_phase = target.id if target else None
        keeper = stateful(self.provider)
        if keeper is not None:
            try:
                pending = await self._finish_restore(keeper)
            except ProviderError as exc:
                pending = [mask(str(exc))]
            if pending:  # the flag service still fails: a provider failure (exit 3), not a refusal
                await self._audit(actor, "rollout.rollback_failed", current, {"to": new_phase, "reasons": pending})
                return RolloutResult(False, "rollback", current, current, reasons=pending, failed=True,
                                     message="rollback failed: " + "; ".join(pending))
        saved = await asyncio.to_thread(self.records.before, current) if keeper is not None else None
        saved = {n: saved[n] for n in plan if n in saved} if saved else None  # the flags this rollback owns
        if keeper is not None and saved:  # the exact state from before `current` was promoted
            problems, _ = await self._restore(keeper, saved)
            flags = {k: flag_text(v) or "" for k, v in plan.items()}
            if not problems:
                try:
                    flags = {k: v or "" for k, v in (await self._read_text(list(saved))).items()}
                except ProviderError as exc:
                    problems = [mask(str(exc))]
            if not problems:
                problems = await self._apply(flags)
        else:
            flags, problems = await self._flip(plan)
            if not problems:
                problems = await self._apply(plan)
        reasons = [reason] if reason else []
        if problems:
            await asyncio.to_thread(self.records.add_event, "rollback", phase=new_phase, from_phase=current,
                                    actor=actor, ok=False, flags=flags, reasons=problems)
            await self._audit(actor, "rollout.rollback_failed", current, {"to": new_phase, "reasons": problems})
            await self._announce("refused", current, actor, reasons=[f"rollback failed: {p}" for p in problems],
                                 flags=flags)
            return RolloutResult(False, "rollback", current, current, reasons=problems, flags=flags, failed=True,
                                 message="rollback failed: " + "; ".join(problems))
        await self._record_applied(new_phase, flags)
        await asyncio.to_thread(self.records.set_phase, new_phase)
        await asyncio.to_thread(self.records.set_paused, None)
        await asyncio.to_thread(self.records.add_event, "rollback", phase=new_phase, from_phase=current,
                                actor=actor, ok=True, flags=flags, reasons=reasons)
        closed = await self._close_incidents(current, actor, new_phase)
        await self._audit(actor, "rollout.rolled_back", current, {"to": new_phase, "flags": flags, "reason": reason,
                                                                  "closed_incidents": closed})
        await self._announce("rolled_back", new_phase or NO_PHASE, actor, previous=current, flags=flags,
                             reasons=reasons)
        await self._witness(f"rolled back {current} by {actor}", current)
        await self._changed(new_phase)
        return RolloutResult(True, "rollback", new_phase, current, reasons=reasons, flags=flags,
                             message=f"rolled back {current} → {new_phase or NO_PHASE}: "
                             + ", ".join(f"{k}={v}" for k, v in flags.items()))

    async def _resume(self, actor: str, phase: str) -> RolloutResult:
        paused = await asyncio.to_thread(self.records.paused)
        if not paused:
            where = "no rollout phase is active" if phase == NO_PHASE else f"{phase} is not paused"
            return RolloutResult(True, "keep_going", phase, phase,
                                 message=f"nothing to resume: {where}, promotions are not held")
        p0 = await asyncio.to_thread(self.records.open_incidents, level="P0")
        if p0:
            reasons = [f"P0 incident {row['id']} on {row['phase']} is still open ({row['message']}): wait for its "
                       "all-clear, or roll back" for row in p0]
            return await self._refuse("resume", phase, phase, actor, reasons)
        await asyncio.to_thread(self.records.set_paused, None)
        await asyncio.to_thread(self.records.add_event, "resume", phase=phase, from_phase=phase, actor=actor, ok=True)
        await self._audit(actor, "rollout.resumed", phase, {"was": paused})
        await self._announce("resumed", phase, actor, reasons=[f"{actor} chose to keep going"])
        await self._changed(phase)
        return RolloutResult(True, "keep_going", phase, phase, message=f"{phase} continues; promotions allowed again")

    async def _close_incidents(self, phase: str, actor: str, new_phase: str | None) -> list[str]:
        """A rollback ends the phase: its open incidents close, with a note in their threads (the alert's
        buttons go away as on an all-clear), so the next promotion starts counting afresh."""
        rows = {row["id"]: row for row in await asyncio.to_thread(self.records.open_incidents, phase=phase)}
        shared = await self.incidents.current() if self.incidents is not None else {}
        for incident in shared.values():
            if incident.phase == phase:
                if incident.id not in rows:
                    rows[incident.id] = {"id": incident.id, "level": incident.level, "phase": incident.phase,
                                         "rules": ",".join(incident.rules), "message": incident.message}
                await self.incidents.resolve(incident)  # type: ignore[union-attr]  # `shared` is empty without it
        for row in rows.values():
            await asyncio.to_thread(self.records.incident_resolved, row["id"])
            event = AlertEvent(incident_id=row["id"], state="resolved", level=row["level"], rule=row["rules"],
                               message=f"closed by the rollback of {phase} to {new_phase or NO_PHASE} by {actor} "
                               f"(was: {row['message']})", checklist=self.checklist.name, phase=phase,
                               healthy=False)
            if self.notifier is not None:
                try:
                    await self.notifier.publish(event)
                except Exception as exc:
                    log.warning("announcing the close of %s failed: %s", row["id"], mask(str(exc)))
        return sorted(rows)

    def _flag_names(self) -> list[str]:
        """Every flag any phase names: the state golive snapshots and watches for edits by others."""
        return list(dict.fromkeys(n for p in self.rollout.phases for n in p.flags))

    async def _read_text(self, names: list[str]) -> dict[str, str | None]:
        return await self.provider.read(names)

    async def _drift(self, keeper: StatefulProvider, now: Mapping[str, Any]) -> list[str]:
        """Flags someone changed in the flag service since golive's last promotion or rollback: promoting
        over them would silently undo (or build on) a change nobody here reviewed."""
        applied = await asyncio.to_thread(self.records.applied)
        last = (applied or {}).get("state") or {}
        where = (applied or {}).get("phase") or "the last rollback"
        diffs = [f"{name} was changed outside golive since {where}: golive left it {keeper.state_text(last[name])}, "
                 f"it is now {keeper.state_text(now[name])}"
                 for name in last if name in now and not keeper.same_state(last[name], now[name])]
        if diffs:
            diffs.append(f"promotion refused so that change is not overwritten: review it in {keeper.description}; "
                         "put it back there, or `golive rollback` to restore what golive recorded, then promote again")
        return diffs

    async def _restore(self, keeper: StatefulProvider, state: Mapping[str, Any]) -> tuple[list[str], bool]:
        """Put back a snapshot exactly (only the flags that differ from it), then read them again.
        (problems when it failed or still differs, whether anything had changed at all)."""
        try:
            now = await keeper.snapshot(list(state))
            changed = {n: e for n, e in state.items() if not keeper.same_state(now.get(n, {}), e)}
            if not changed:
                return [], False
            await keeper.restore(changed)
            now = await keeper.snapshot(list(changed))
        except ProviderError as exc:
            return [mask(str(exc))], True
        return [f"{name} is {keeper.state_text(now[name])} after restoring (expected {keeper.state_text(entry)})"
                for name, entry in changed.items() if not keeper.same_state(now.get(name, {}), entry)], True

    async def _finish_restore(self, keeper: StatefulProvider) -> list[str]:
        """A promotion that failed half-way and could not restore the flags left their earlier state here:
        put it back now, before anything else changes (problems when it still cannot be)."""
        pending = await asyncio.to_thread(self.records.unrestored)
        if not pending:
            return []
        undo, _ = await self._restore(keeper, pending["state"])
        if undo:
            return [f"the flags are still not restored after the failed promotion of {pending['phase']}: "
                    + "; ".join(undo)]
        await asyncio.to_thread(self.records.set_unrestored, None)
        return []

    async def _record_applied(self, phase: str | None, flags: Mapping[str, str]) -> None:
        """What golive left in the flag service: the deployment record and status show it, and the next
        promotion compares the service with it (edits by others)."""
        state: dict[str, Any] | None = None
        keeper = stateful(self.provider)
        if keeper is not None:
            try:
                state = await keeper.snapshot(self._flag_names())
            except ProviderError as exc:  # the change is made; without the state the next drift check is skipped
                log.warning("reading the flags' state after the change failed: %s", mask(str(exc)))
        await asyncio.to_thread(self.records.set_applied, phase, dict(flags), state)

    async def _fail(self, phase: str, current: str | None, actor: str, problems: list[str],
                    planned: dict[str, str]) -> RolloutResult:
        """The flag service could not even be read: nothing was changed, and the promotion did not happen."""
        await asyncio.to_thread(self.records.add_event, "promote", phase=phase, from_phase=current, actor=actor,
                                ok=False, flags=planned, reasons=problems)
        await self._audit(actor, "rollout.promote_failed", phase, {"from": current, "reasons": problems})
        await self._announce("refused", phase, actor, reasons=problems, previous=current, flags=planned)
        return RolloutResult(False, "promote", current, current, reasons=problems, flags=planned, failed=True,
                             message=f"promotion to {phase} failed: " + "; ".join(problems))

    async def _flip(self, plan: Mapping[str, FlagValue]) -> tuple[dict[str, str], list[str]]:
        try:
            actual, problems = await apply_flags(self.provider, plan)
        except ProviderError as exc:
            return {k: flag_text(v) or "" for k, v in plan.items()}, [mask(str(exc))]
        return {k: actual.get(k) or "" for k in plan}, problems

    async def _apply(self, plan: Mapping[str, FlagValue | None]) -> list[str]:
        """Make the service use the written flags (`rollout.apply.command`), then poll `rollout.effective`
        until it reports the plan. Problems when the command fails or the service never agrees."""
        if self.apply.command:
            try:
                raw = self.apply.command  # a string is split before interpolation: a value stays one argument
                command = command_argv(raw, self.env) if isinstance(raw, str) else interpolate(raw, self.env)
                async with asyncio.timeout(self.apply.timeout_seconds):
                    done = await run_process(command, cwd=self.workdir)
            except MissingVariable as exc:
                return [f"rollout.apply.command: {exc}"]
            except TimeoutError:
                return [f"apply command timed out after {self.apply.timeout_seconds:g}s"]
            except OSError as exc:
                return [f"apply command could not start: {exc.strerror or exc}"]
            except CapExceeded as exc:
                return [f"apply command: {mask(str(exc))}"]
            if done.returncode != 0:
                return [f"apply command exited {done.returncode}: {mask(done.tail(1))}"]
        if self.effective is None:
            return []
        return await self._settle(plan)

    async def _settle(self, plan: Mapping[str, FlagValue | None]) -> list[str]:
        assert self.effective is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.apply.settle_seconds
        names = list(plan)
        while True:
            try:
                running = await read_effective(self.effective, names, base_url=self.target_url, workdir=self.workdir,
                                               env=self.env, headers=self.checklist.target.headers,
                                               verify_tls=self.checklist.target.verify_tls)
                differ = [f"{n} is {shown(running.get(n))} in the running service (plan: {normalise_flag(plan[n])})"
                          for n in names if running.get(n) is None
                          or normalise_flag(running.get(n)) != normalise_flag(plan[n])]
            except EffectiveError as exc:  # a restarting service may not answer yet: keep polling
                differ = [mask(str(exc))]
            if not differ:
                return []
            if loop.time() + self.apply.poll_interval_seconds > deadline:
                return [f"after {self.apply.settle_seconds:g}s {'; '.join(differ)}"]
            await asyncio.sleep(self.apply.poll_interval_seconds)

    async def _refuse(self, action: str, phase: str | None, current: str | None, actor: str,
                      reasons: list[str], flags: dict[str, str] | None = None) -> RolloutResult:
        await asyncio.to_thread(self.records.add_event, "refused", phase=phase, from_phase=current, actor=actor,
                                ok=False, reasons=reasons, flags={"requested": action})
        await self._audit(actor, "rollout.refused", phase or NO_PHASE, {"requested": action, "reasons": reasons})
        await self._announce("refused", phase or current or NO_PHASE, actor, reasons=reasons, previous=current,
                             flags=flags)
        what = f"{action} {phase}" if phase and action == "promote" else action
        return RolloutResult(False, action, current, current, reasons=reasons, flags=dict(flags or {}),
                             message=f"{what} refused: " + "; ".join(reasons))

    async def _audit(self, actor: str, action: str, phase: str | None, detail: dict[str, Any]) -> None:
        await asyncio.to_thread(self.store.audit, actor=actor, action=action,
                                subject=subject_of(self.checklist.name, phase or NO_PHASE), detail=detail)

    async def _announce(self, kind: AnnouncementKind, phase: str, actor: str, *, previous: str | None = None,
                        flags: dict[str, str] | None = None, reasons: list[str] | None = None) -> None:
        if self.notifier is None:
            return
        event = Announcement(kind=kind, checklist=self.checklist.name, phase=phase, actor=actor, flags=flags or {},
                             reasons=reasons or [], previous_phase=previous)
        try:
            await self.notifier.publish(event)
        except Exception as exc:  # the change is made and recorded; a chat outage must not hide that
            log.warning("announcing %s of %s failed: %s", kind, phase, mask(str(exc)))

    async def _witness(self, why: str, phase: str) -> None:
        """Post the audit chain's head (bot.authority.witness) in the phase's thread: a promotion or rollback is
        evidence worth witnessing."""
        from bot.authority.witness import witness

        try:
            await witness(self.store, self.notifier, why, thread=subject_of(self.checklist.name, phase))
        except Exception as exc:  # the change is made and audited; a witness failure must not hide that
            log.warning("witnessing the audit head failed: %s", mask(str(exc)))

    async def _changed(self, phase: str | None) -> None:
        if self.after_change is not None:
            await self.after_change(phase)
