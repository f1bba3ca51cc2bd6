"""The promotion gate: every reason a phase may not be promoted now. An empty list means it may.

Pure: the service gathers the facts (latest results, sign-offs, current phase, pause) and this decides,
so the rules read in one place and test without a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.runs.status import age, role_titles
from bot.signoff.service import stages
from checks.result import CheckResult, Criticality, Status
from checks.spec import Checklist, RolloutPhase
from checks.verdict import SignoffState


def required_checks(checklist: Checklist, phase: RolloutPhase) -> list[str]:
    """The phase's `requires_checks`; without any, every critical check of the checklist."""
    if phase.requires_checks:
        return list(phase.requires_checks)
    return [c.id for c in checklist.all_checks() if c.criticality is Criticality.CRITICAL]


def order_reasons(checklist: Checklist, phase: RolloutPhase, current: str | None) -> list[str]:
    assert checklist.rollout is not None
    ids = [p.id for p in checklist.rollout.phases]
    want = ids.index(phase.id)
    have = ids.index(current) if current in ids else -1
    if want == have:
        return [f"{phase.id} is already the current phase"]
    if want < have:
        return [f"{phase.id} comes before the current phase {current}: use rollback to go back"]
    if want > have + 1:
        return [f"phases are promoted in order: promote {ids[have + 1]} before {phase.id} "
                f"(current: {current or 'none'})"]
    return []


def check_reasons(checklist: Checklist, phase: RolloutPhase, latest: Mapping[str, CheckResult], *,
                  max_age: timedelta, now: datetime) -> list[str]:
    """Required checks must have passed (a warning counts, as in the verdict) recently enough."""
    reasons = []
    for check_id in required_checks(checklist, phase):
        result = latest.get(check_id)
        if result is None:
            reasons.append(f"required check {check_id} has not run")
        elif not (result.status is Status.PASS or (result.status is Status.WARN and not result.needs_confirmation)):
            reasons.append(f"required check {check_id} is {result.status.value}: {result.summary}")
        elif now - result.finished_at > max_age:
            reasons.append(f"required check {check_id} passed {age(result.finished_at, now)}, older than "
                           f"{max_age.total_seconds() / 60:g} min: run it again")
    return reasons


def signoff_reasons(checklist: Checklist, phase: RolloutPhase, state: SignoffState) -> list[str]:
    known = stages(checklist)
    reasons = [f"sign-off stage {name!r} is not defined (stages: {', '.join(known)})"
               for name in phase.requires_signoff if name not in known]
    titles = role_titles(checklist)
    reasons += [f"sign-off rejected: {titles.get(key, key)} — {why}" for key, why in state.rejected.items()]
    reasons += [f"sign-off missing: {titles.get(key, key)}" for key in state.missing]
    return reasons


def gate_reasons(checklist: Checklist, phase: RolloutPhase, *, current: str | None,
                 latest: Mapping[str, CheckResult], signoffs: SignoffState, paused: Mapping[str, Any] | None,
                 max_age: timedelta, now: datetime) -> list[str]:
    """Everything that keeps `phase` from being promoted now, most fundamental first."""
    reasons = order_reasons(checklist, phase, current)
    if paused:
        reasons.append(f"the rollout is paused ({paused.get('reason', 'P0 alert')}): choose Keep going or "
                       "Roll back on the alert first")
    reasons += check_reasons(checklist, phase, latest, max_age=max_age, now=now)
    reasons += signoff_reasons(checklist, phase, signoffs)
    return reasons
