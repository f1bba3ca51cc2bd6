"""The status overview: each phase's counts and age, the overall verdict and why, missing sign-offs,
the rollout phase. Plain data; each transport renders it its own way."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.authority.breakglass import unacknowledged_notes
from bot.diagnostics.degradations import degradations
from bot.policy.waivers import WaiverService
from bot.rollout.charts import Moment, stored_points, timeline, watch_chart
from bot.runs.durable import Durability
from bot.signoff.service import SignoffService, stages
from bot.store import RunRecord, Store, StoreUnavailable
from bot.store.store import parse_time
from checks.result import CheckResult, Status, utcnow
from checks.spec import Checklist, CheckSpec
from checks.verdict import SignoffState, Verdict, Waiver, decide

ROLLOUT_PHASE_KEY = "rollout:{checklist}:phase"
DELIVERY_FAILURES_KEY = "delivery-failures:{run_id}"
"""Messages of a run a transport could not post, even after retries: [{transport, what, checks, error}]."""


@dataclass
class PhaseStatus:
    id: str
    title: str
    counts: dict[str, int]
    total: int
    last_run_at: datetime | None
    checks: list[tuple[CheckSpec, CheckResult | None]]

    @property
    def pending(self) -> int:
        return self.counts.get(Status.PENDING.value, 0)


@dataclass
class StatusOverview:
    checklist: str
    phases: list[PhaseStatus]
    verdict: Verdict
    signoffs: SignoffState
    missing_signoffs: list[str]
    rollout_phase: str | None
    running: list[RunRecord] = field(default_factory=list)
    generated_at: datetime = field(default_factory=utcnow)
    deployment: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what runs degraded now, and why (bot.diagnostics.degradations)
    waivers: list[Waiver] = field(default_factory=list)  # live waivers (expired ones are in the deployment record)
    chart: str = ""  # the watched metrics over the window while a rollout phase is active (bot.rollout.charts)
    timeline: str = ""  # phase runs, promotions, incidents, rollbacks (bot.rollout.charts.timeline)


def _number(value: object) -> float:
    """A stored number (JSON from the store: int, float or text); 0 when absent or unreadable."""
    try:
        return float(value) if isinstance(value, int | float | str) else 0.0
    except ValueError:
        return 0.0


def _entries(value: object) -> list[Any]:
    """A stored list of records, or none when the key is absent or holds something else."""
    return list(value) if isinstance(value, list) else []


def deployment_facts(overview: StatusOverview) -> list[tuple[str, str]]:
    """The deployment record as (label, value) pairs every transport shows the same way: duration,
    downtime, migration time (rehearsed on the scratch copy), rollback count, promotion success rate."""
    record = overview.deployment or {}
    facts: list[tuple[str, str]] = []
    if record.get("started_at"):
        facts.append(("Deployment running for", _duration(_number(record.get("duration_seconds")))))
        facts.append(("Downtime (P0 incidents)", _duration(_number(record.get("downtime_seconds")))))
    migration = _migration_seconds(overview)
    if migration is not None:
        facts.append(("Migration (rehearsed on a scratch copy)", _duration(migration)))
    if record:
        facts.append(("Rollbacks", str(record.get("rollback_count", 0))))
        rate = record.get("success_rate")
        if rate is not None:
            facts.append(("Promotion success rate",
                          f"{_number(rate):.0%} of {record.get('promotions', 0)} promotion(s)"))
        flags = record.get("flags")
        if isinstance(flags, dict) and flags:
            facts.append(("Flags", ", ".join(f"{name}={flag_shown(value)}" for name, value in flags.items())))
        if record.get("paused"):
            facts.append(("Paused", "yes: roll back, or keep going (`golive resume` or Keep going on the alert)"))
    for waiver in _entries(record.get("waivers")):
        state = "until" if waiver["live"] else "expired"
        facts.append((f"Waiver {waiver['check_id']}", f"by {waiver['by']}, {state} {waiver['until'][:16]}: "
                      f"{waiver['reason']}"))
    return facts


def flag_shown(value: object) -> str:
    """A flag's value as the record holds it, a percentage spelled out: `on for 25%`."""
    text = str(value)
    return f"on for {text}" if text.endswith("%") else text


def _migration_seconds(overview: StatusOverview) -> float | None:
    for phase in overview.phases:
        for spec, result in phase.checks:
            if spec.kind == "migration.rollback" and result is not None and "upgrade_s" in result.evidence:
                return float(result.evidence["upgrade_s"]) + float(result.evidence.get("downgrade_s", 0))
    return None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60)}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"


def role_titles(checklist: Checklist) -> dict[str, str]:
    return {f"{name}:{role.id}": f"{role.title} ({name})" for name, stage in stages(checklist).items()
            for role in stage.roles}


def build_status(store: Store, checklist: Checklist) -> StatusOverview:
    with contextlib.suppress(StoreUnavailable):  # a run whose owner died is not shown as running
        store.reap_expired_runs(Durability.from_env().heartbeat_ttl, checklist=checklist.name)
    latest = store.latest_results(checklist.name)
    phases = []
    for phase in checklist.phases:
        counts = {s.value: 0 for s in Status}
        rows = []
        last: datetime | None = None
        for spec in phase.checks:
            result = latest.get(spec.id)
            counts[(result.status if result else Status.PENDING).value] += 1
            rows.append((spec, result))
            if result and (last is None or result.finished_at > last):
                last = result.finished_at
        phases.append(PhaseStatus(id=phase.id, title=phase.title or phase.id, counts=counts,
                                  total=len(phase.checks), last_run_at=last, checks=rows))
    signoffs = SignoffService(store, checklist).state()
    titles = role_titles(checklist)
    waivers = WaiverService(store, checklist)
    granted = waivers.all()
    now = utcnow()
    live = [w for w in granted if w.active(now)]
    verdict = decide(checklist.all_checks(), latest, signoffs, waivers=live, now=now)
    deployment = dict(store.get(f"deployment:{checklist.name}", {}) or {})
    if granted:
        deployment["waivers"] = [{"check_id": w.check_id, "by": w.by, "until": w.until.isoformat(),
                                  "reason": w.reason, "live": w.active(now)} for w in granted]
    return StatusOverview(
        chart=rollout_chart(store, checklist), timeline=deployment_timeline(store, checklist, deployment),
        checklist=checklist.name, phases=phases, verdict=verdict, signoffs=signoffs, waivers=live,
        missing_signoffs=[titles.get(k, k) for k in signoffs.missing],
        rollout_phase=store.get(ROLLOUT_PHASE_KEY.format(checklist=checklist.name)),
        running=store.runs(status="running", checklist=checklist.name),
        deployment=deployment,
        warnings=degradations.messages() + undelivered(store, checklist) + unacknowledged_notes(store, checklist.name),
    )


def undelivered(store: Store, checklist: Checklist, *, runs: int = 10) -> list[str]:
    """'2 evidence replies could not be posted' for the recent runs that lost some: nothing is lost quietly."""
    lines = []
    for run in store.runs(checklist=checklist.name, limit=runs):
        failures = store.get(DELIVERY_FAILURES_KEY.format(run_id=run.id)) or []
        if not failures:
            continue
        by_transport: dict[str, list[dict[str, object]]] = {}
        for failure in failures:
            by_transport.setdefault(str(failure.get("transport", "?")), []).append(failure)
        for transport, lost in by_transport.items():
            checks = [str(c) for f in lost for c in f.get("checks", [])]  # type: ignore[attr-defined]  # stored JSON dicts
            replies = "reply" if len(lost) == 1 else "replies"
            lines.append(f"{len(lost)} evidence {replies} could not be posted in {transport} for run {run.id} "
                         f"({run.selector}: {', '.join(checks)})")
    return lines


def rollout_chart(store: Store, checklist: Checklist) -> str:
    """The watch's chart while a rollout phase is active ("" otherwise)."""
    phase_id = store.get(ROLLOUT_PHASE_KEY.format(checklist=checklist.name))
    phase = checklist.rollout.phase(phase_id) if phase_id and checklist.rollout else None
    if phase is None:
        return ""
    return watch_chart(stored_points(store, checklist.name), phase.criteria)


def deployment_timeline(store: Store, checklist: Checklist, deployment: dict[str, object]) -> str:
    """Phase runs, promotions, incidents and rollbacks in time order, as text lines."""
    moments = [Moment(at, str(m["kind"]), str(m["text"])) for m in _entries(deployment.get("timeline"))
               if isinstance(m, dict) and (at := parse_time(str(m.get("at")))) is not None]
    for run in store.runs(checklist=checklist.name, limit=10):
        if run.verdict is not None and run.finished_at is not None:
            moments.append(Moment(run.finished_at, "run", f"run {run.selector}: {run.verdict.decision.label}"))
    return timeline(moments)


def age(when: datetime | None, now: datetime | None = None) -> str:
    """'3m ago' style ages for status lines."""
    if when is None:
        return "never"
    seconds = int(((now or utcnow()) - when).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"
