"""The Go / No-Go decision, from check criticality, sign-offs and waivers, as the go-live plan defines it.

This is the only place the verdict is computed: the runner, the CLI, status, chat replies and the
promotion gate all call `decide()` (the gate adds sign-offs, phase order and freshness on top).

NO-GO: a critical check failed or has not run (not yet run, skipped after a failed dependency, timed
out), or a sign-off was rejected. n/a (its `when:` does not hold) is not part of the verdict.
GO (conditional): every critical check passed, but a high/medium item is failing or pending, or a
sign-off is still missing; the conditions are listed. A check under a live waiver is not a condition.
GO: everything required passed and signed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from checks.result import CheckResult, Criticality, Status
from checks.spec import CheckSpec


class Decision(StrEnum):
    GO = "go"
    CONDITIONAL = "go_conditional"
    NO_GO = "no_go"

    @property
    def label(self) -> str:
        return {"go": "GO", "go_conditional": "GO (conditional)", "no_go": "NO-GO"}[self.value]


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SignoffState(BaseModel):
    """Plain sign-off facts for the verdict: which roles are required, approved, rejected."""

    required: list[str] = Field(default_factory=list)
    approved: dict[str, str] = Field(default_factory=dict)  # role -> who
    rejected: dict[str, str] = Field(default_factory=dict)  # role -> "who: reason"

    @property
    def missing(self) -> list[str]:
        return [r for r in self.required if r not in self.approved and r not in self.rejected]


class Waiver(BaseModel):
    """A lead accepted a failing check until `until`; while it lasts, the check is not a condition."""

    check_id: str
    by: str
    until: datetime
    reason: str
    id: str = ""

    def active(self, now: datetime) -> bool:
        return now < self.until

    def text(self) -> str:
        return f"waived by {self.by} until {self.until:%Y-%m-%d %H:%M} UTC: {self.reason}"


def waivable(spec: CheckSpec) -> bool:
    """Non-critical checks may always be waived; a critical one only when the checklist says so."""
    return spec.criticality is not Criticality.CRITICAL or spec.waivable


class Verdict(BaseModel):
    decision: Decision
    risk: Risk
    reasons: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    waived: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list, description="what the checks of this verdict wrote on the target")

    @property
    def go(self) -> bool:
        return self.decision is not Decision.NO_GO

    def headline(self) -> str:
        return f"{self.decision.label} — risk {self.risk.value}"


def decide(
    expected: Iterable[CheckSpec],
    results: Mapping[str, CheckResult],
    signoffs: SignoffState | None = None,
    *,
    waivers: Iterable[Waiver] = (),
    require: Collection[str] = (),
    now: datetime | None = None,
) -> Verdict:
    """The verdict over `expected` from their latest `results`. `require` names checks the caller needs
    passed whatever their criticality (a rollout phase's `requires_checks`): they weigh as critical."""
    now = now or datetime.now(UTC)
    live = {w.check_id: w for w in waivers if w.active(now)}
    reasons: list[str] = []
    conditions: list[str] = []
    notes: list[str] = []
    waived: list[str] = []
    counts = {s.value: 0 for s in Status}
    high_failing = False
    writes: list[str] = []
    for spec in expected:
        result = results.get(spec.id)
        status = result.status if result else Status.PENDING
        counts[status.value] += 1
        if result is not None and status not in (Status.NA, Status.SKIP, Status.PENDING) \
                and result.evidence.get("writes"):
            changed = result.evidence.get("changed")
            writes.append(f"{spec.id}: " + ("; ".join(str(c) for c in changed) if isinstance(changed, list) and changed
                                            else str(result.evidence["writes"])))
        what = f"{spec.id}: {result.summary}" if result else f"{spec.id}: has not run"
        if status in (Status.PASS, Status.NA):
            continue
        criticality = spec.weight(status, result.evidence) if result else spec.criticality
        if spec.id in require:
            criticality = Criticality.CRITICAL
        waiver = live.get(spec.id)
        if waiver is not None and result is not None and (criticality is not Criticality.CRITICAL or spec.waivable):
            waived.append(f"{spec.id}: {waiver.text()}")
            continue
        if criticality is Criticality.CRITICAL:
            if status is Status.WARN and not (result and result.needs_confirmation):
                conditions.append(what)  # a critical warning passes, with its caveat listed
            else:
                reasons.append(what)
        elif criticality in (Criticality.HIGH, Criticality.MEDIUM):
            conditions.append(what)
            if criticality is Criticality.HIGH and status in (Status.FAIL, Status.ERROR):
                high_failing = True
        else:
            notes.append(what)
    if signoffs is not None:
        for role, who in signoffs.rejected.items():
            reasons.append(f"sign-off {role} rejected by {who}")
        for role in signoffs.missing:
            conditions.append(f"sign-off {role} missing")
    if reasons:
        return Verdict(decision=Decision.NO_GO, risk=Risk.CRITICAL, reasons=reasons, conditions=conditions,
                       notes=notes, counts=counts, waived=waived, writes=writes)
    if conditions:
        risk = Risk.HIGH if high_failing else Risk.MEDIUM
        return Verdict(decision=Decision.CONDITIONAL, risk=risk,
                       reasons=["all critical checks passed; go only if the conditions are accepted"],
                       conditions=conditions, notes=notes, counts=counts, waived=waived, writes=writes)
    return Verdict(decision=Decision.GO, risk=Risk.LOW, reasons=["every required check passed"]
                   + (["every required sign-off is in"] if signoffs and signoffs.required else []),
                   notes=notes, counts=counts, waived=waived, writes=writes)
