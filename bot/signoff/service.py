"""Sign-off records. A role's decision is recorded once per request (the primary key guarantees it,
whatever the number of concurrent clicks); every attempt, allowed or not, is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.store import Store
from bot.store.store import now_iso, parse_time
from checks.masking import masker
from checks.spec import Checklist, Role, SignoffStage
from checks.verdict import SignoffState

Decision = Literal["approve", "reject"]


class OneRolePerPerson(ValueError):
    """The person already holds another role's decision on this stage: four-eyes needs distinct people."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role

DEFAULT_STAGES: dict[str, SignoffStage] = {
    "pre": SignoffStage(title="Before deploy", roles=[
        Role(id="tech_lead", title="Tech Lead"), Role(id="devops_lead", title="DevOps Lead"),
        Role(id="product_owner", title="Product Owner")]),
    "post": SignoffStage(title="After deploy", roles=[
        Role(id="deployment_engineer", title="Deployment Engineer"), Role(id="qa_lead", title="QA Lead"),
        Role(id="tech_lead", title="Tech Lead")]),
}


def stages(checklist: Checklist) -> dict[str, SignoffStage]:
    return checklist.signoffs or DEFAULT_STAGES


@dataclass
class RoleDecision:
    role: str
    decision: Decision
    user_id: str
    reason: str
    decided_at: datetime


@dataclass
class SignoffRequest:
    id: str
    stage: str
    checklist: str
    run_id: str | None
    requested_by: str
    created_at: datetime
    decisions: dict[str, RoleDecision] = field(default_factory=dict)


class SignoffService:
    """Sign-offs of one checklist in the service of `store` (Store.for_service): a request, and so every
    decision on it, belongs to one service; another service neither finds nor counts it."""

    def __init__(self, store: Store, checklist: Checklist) -> None:
        self.store = store
        self.checklist = checklist

    def stage(self, stage: str) -> SignoffStage:
        all_stages = stages(self.checklist)
        if stage not in all_stages:
            raise LookupError(f"unknown sign-off stage {stage!r}; stages: {', '.join(all_stages)}")
        return all_stages[stage]

    def open_request(self, stage: str, *, requested_by: str, run_id: str | None = None) -> SignoffRequest:
        self.stage(stage)
        request_id = uuid.uuid4().hex[:16]
        self.store.db.execute(
            "INSERT INTO signoff_requests (id, stage, checklist, run_id, requested_by, created_at, service) "
            "VALUES (:id, :stage, :checklist, :run_id, :by, :at, :service)",
            {"id": request_id, "stage": stage, "checklist": self.checklist.name, "service": self.store.service,
             "run_id": run_id,
             "by": requested_by, "at": now_iso()})
        self.store.audit(actor=requested_by, action="signoff.requested", subject=request_id, detail={"stage": stage})
        request = self.get(request_id)
        assert request is not None
        return request

    def request_card(self, stage: str, *, requested_by: str, run_id: str | None = None
                     ) -> tuple[SignoffRequest, bool]:
        """The stage's sign-off request for a (new) card: the existing one with its decisions kept, else a
        new one. (request, True) when it already existed: asking again never voids a decision."""
        self.stage(stage)
        existing = self.latest(stage)
        if existing is None:
            return self.open_request(stage, requested_by=requested_by, run_id=run_id), False
        self.store.audit(actor=requested_by, action="signoff.card_reposted", subject=existing.id,
                         detail={"stage": stage, "decisions": len(existing.decisions)})
        return existing, True

    def get(self, request_id: str) -> SignoffRequest | None:
        row = self.store.db.fetchone("SELECT * FROM signoff_requests WHERE id = :id AND service = :service",
                                     {"id": request_id, "service": self.store.service})
        if row is None:
            return None
        request = SignoffRequest(id=row["id"], stage=row["stage"], checklist=row["checklist"], run_id=row["run_id"],
                                 requested_by=row["requested_by"], created_at=parse_time(row["created_at"]))  # type: ignore[arg-type]  # stored times always parse
        for d in self.store.db.fetchall("SELECT * FROM signoffs WHERE request_id = :id", {"id": request_id}):
            request.decisions[d["role"]] = RoleDecision(role=d["role"], decision=d["decision"], user_id=d["user_id"],
                                                        reason=d["reason"], decided_at=parse_time(d["decided_at"]))  # type: ignore[arg-type]  # stored times always parse
        return request

    def latest(self, stage: str) -> SignoffRequest | None:
        row = self.store.db.fetchone(
            "SELECT id FROM signoff_requests WHERE service = :service AND checklist = :checklist AND stage = :stage "
            "ORDER BY created_at DESC LIMIT 1",
            {"stage": stage, "checklist": self.checklist.name, "service": self.store.service})
        return self.get(row["id"]) if row else None

    def record(self, request_id: str, role: str, decision: Decision, *, user_id: str, reason: str = "") -> bool:
        """Record a decision; False when this role was already decided on this request (a double click).
        Raises LookupError when the request is not this service's (another service's card never counts here),
        and OneRolePerPerson when `user_id` already decided another role of this request: checked and
        written under a lock on the request, so two simultaneous clicks for two roles cannot both land."""
        with self.store.db.transaction() as tx:
            # the lock (SQLite's BEGIN IMMEDIATE already serialises writers) and the request's service in one read
            lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
            if tx.fetchone(f"SELECT id FROM signoff_requests WHERE id = :id AND service = :service{lock}",
                           {"id": request_id, "service": self.store.service}) is None:
                raise LookupError(f"no sign-off request {request_id} in this service: ask for a new sign-off card")
            other = tx.fetchone("SELECT role FROM signoffs WHERE request_id = :rid AND user_id = :user AND "
                                "role <> :role", {"rid": request_id, "user": user_id, "role": role})
            if other is not None:
                raise OneRolePerPerson(other["role"])
            inserted = tx.execute(
                "INSERT INTO signoffs (request_id, role, decision, user_id, reason, decided_at) "
                "VALUES (:rid, :role, :decision, :user, :reason, :at) ON CONFLICT (request_id, role) DO NOTHING",
                {"rid": request_id, "role": role, "decision": decision, "user": user_id,
                 "reason": masker.mask(reason), "at": now_iso()}) > 0
            if inserted:
                self.store.audit(actor=user_id, action=f"signoff.{decision}", subject=request_id,
                                 detail={"role": role, "reason": reason})
        return inserted

    def withdraw(self, request_id: str, role: str, *, user_id: str) -> bool:
        """Take back your own decision; the audit log keeps the history. Someone else's decision is never
        removed (False), whatever the click says."""
        with self.store.db.transaction() as tx:
            removed = tx.execute("DELETE FROM signoffs WHERE request_id = :rid AND role = :role AND user_id = :user "
                                 "AND request_id IN (SELECT id FROM signoff_requests WHERE service = :service)",
                                 {"rid": request_id, "role": role, "user": user_id,
                                  "service": self.store.service}) > 0
            if removed:
                self.store.audit(actor=user_id, action="signoff.withdrawn", subject=request_id, detail={"role": role})
        return removed

    def state(self, stage_names: list[str] | None = None) -> SignoffState:
        """Required roles, approvals and rejections across the latest request of each stage."""
        state = SignoffState()
        for name, stage in stages(self.checklist).items():
            if stage_names is not None and name not in stage_names:
                continue
            request = self.latest(name)
            counted: set[str] = set()  # one person fills at most one role per stage, even in old rows
            decisions = sorted(request.decisions.values(), key=lambda d: d.decided_at) if request else []
            valid = {}
            for d in decisions:
                if d.user_id not in counted:
                    counted.add(d.user_id)
                    valid[d.role] = d
            for role in stage.roles:
                key = f"{name}:{role.id}"
                state.required.append(key)
                decision = valid.get(role.id)
                if decision and decision.decision == "approve":
                    state.approved[key] = decision.user_id
                elif decision:
                    state.rejected[key] = f"{decision.user_id}: {decision.reason}"
        return state
