"""The promotion gate: every reason a phase may not be promoted now. An empty list means it may.

The gate requires the verdict (`checks.verdict.decide`, the same one `golive status` shows) of the
phases the rollout phase requires, and adds only its own conditions on top: phase order, pause,
freshness of the required checks, every required sign-off in. It never restates a verdict rule.
Pure: the service gathers the facts and this decides, so it tests without a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.runs.status import age, role_titles
from bot.signoff.service import stages
from checks.result import CheckResult, Criticality
from checks.spec import Checklist, CheckSpec, RolloutPhase
from checks.verdict import Decision, SignoffState, Verdict, Waiver, decide


def required_checks(checklist: Checklist, phase: RolloutPhase) -> list[str]:
    """The phase's `requires_checks`; without any, every critical check of the phases it requires."""
    if phase.requires_checks:
        return list(phase.requires_checks)
    return [c.id for c in scope(checklist, phase) if c.criticality is Criticality.CRITICAL]


def scope(checklist: Checklist, phase: RolloutPhase) -> list[CheckSpec]:
    """The checks whose verdict a rollout phase requires: those of its `requires_phases` (default: all),
    plus any `requires_checks` from elsewhere."""
    if phase.requires_phases:
        unknown = [p for p in phase.requires_phases if checklist.phase(p) is None]
        if unknown:
            raise LookupError(f"rollout phase {phase.id} requires unknown phase(s) {', '.join(unknown)}; "
                              f"phases: {', '.join(p.id for p in checklist.phases)}")
        checks = [c for p in phase.requires_phases for c in checklist.phase(p).checks]  # type: ignore[union-attr]  # unknown: refused above
    else:
        checks = checklist.all_checks()
    ids = {c.id for c in checks}
    checks += [c for c in checklist.all_checks() if c.id in phase.requires_checks and c.id not in ids]
    return checks


def phase_verdict(checklist: Checklist, phase: RolloutPhase, latest: Mapping[str, CheckResult],
                  signoffs: SignoffState, waivers: Iterable[Waiver], now: datetime) -> Verdict:
    """The verdict `golive status` shows, over the checks this phase requires; its required checks weigh
    as critical."""
    return decide(scope(checklist, phase), latest, signoffs, waivers=waivers, require=set(phase.requires_checks),
                  now=now)


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


def verdict_reasons(checklist: Checklist, verdict: Verdict) -> list[str]:
    """NO-GO: the verdict's reasons, word for word as status shows them. GO (conditional): nothing,
    unless the checklist forbids conditional promotion; then its conditions."""
    if verdict.decision is Decision.NO_GO:
        return [f"verdict {verdict.decision.label}: {r}" for r in verdict.reasons]
    assert checklist.rollout is not None
    if verdict.decision is Decision.CONDITIONAL and not checklist.rollout.allow_conditional:
        return [f"verdict {verdict.decision.label} and rollout.allow_conditional is false: {c}"
                for c in verdict.conditions]
    return []


def freshness_reasons(checklist: Checklist, phase: RolloutPhase, latest: Mapping[str, CheckResult], *,
                      max_age: timedelta, now: datetime) -> list[str]:
    """Required checks' results must be recent enough (whether they pass is the verdict's business)."""
    reasons = []
    for check_id in required_checks(checklist, phase):
        result = latest.get(check_id)
        if result is not None and now - result.finished_at > max_age:
            reasons.append(f"required check {check_id} ran {age(result.finished_at, now)}, older than "
                           f"{max_age.total_seconds() / 60:g} min: run it again")
    return reasons


def signoff_reasons(checklist: Checklist, phase: RolloutPhase, state: SignoffState) -> list[str]:
    """On top of the verdict (which already refuses a rejection): every required sign-off must be in."""
    known = stages(checklist)
    reasons = [f"sign-off stage {name!r} is not defined (stages: {', '.join(known)})"
               for name in phase.requires_signoff if name not in known]
    titles = role_titles(checklist)
    reasons += [f"sign-off missing: {titles.get(key, key)}" for key in state.missing]
    return reasons


def gate_reasons(checklist: Checklist, phase: RolloutPhase, *, current: str | None,
                 verdict: Verdict, latest: Mapping[str, CheckResult], signoffs: SignoffState,
                 paused: Mapping[str, Any] | None, max_age: timedelta, now: datetime,
                 frozen: Iterable[str] = ()) -> list[str]:
    """Everything that keeps `phase` from being promoted now, most fundamental first: phase order, a
    release freeze without override, the pause, then the verdict, then what the gate adds on top
    (freshness, sign-offs complete)."""
    reasons = order_reasons(checklist, phase, current)
    reasons += list(frozen)
    if paused:
        reasons.append(f"the rollout is paused ({paused.get('reason', 'P0 alert')}): `golive resume` or "
                       "Keep going on the alert, or roll back, first")
    reasons += verdict_reasons(checklist, verdict)
    reasons += freshness_reasons(checklist, phase, latest, max_age=max_age, now=now)
    reasons += signoff_reasons(checklist, phase, signoffs)
    return reasons
