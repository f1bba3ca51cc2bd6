"""Waivers: a lead accepts a failing check for a while, with a reason. Recorded in the store, audited,
listed in status and in the deployment record, revocable; `checks.verdict.decide` receives the live
ones as data, so a waived check stops being a condition until the waiver expires.

Who may waive is the access table's business (`Action.CHECK_WAIVE`, role-checked like sign-offs);
what may be waived is the checklist's (`waivable: true` for a critical check).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from bot.store import Store
from bot.store.store import now_iso, parse_time
from checks.masking import masker
from checks.spec import Checklist
from checks.verdict import Waiver, waivable

_DURATION = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_WAIVER = timedelta(days=30)


class WaiverError(ValueError):
    """Bad waiver input (unknown check, duration, no reason); the message says what to do instead."""


class WaiverRefused(WaiverError):
    """A well-formed waiver the rules do not allow (a critical check not `waivable`, nothing to revoke)."""


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '2h', '1d', '1w' → timedelta (at most 30 days)."""
    match = _DURATION.match((text or "").strip().lower())
    if not match:
        raise WaiverError(f"duration {text!r} not understood: use a number and a unit, e.g. 30m, 2h, 1d")
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds <= 0:
        raise WaiverError("the duration must be more than zero")
    if seconds > MAX_WAIVER.total_seconds():  # compared as a number: a huge one never reaches timedelta
        raise WaiverError("a waiver lasts at most 30 days: fix the check, or waive it again later")
    return timedelta(seconds=seconds)


class WaiverService:
    """Synchronous store access for one checklist's waivers (async callers use asyncio.to_thread), in the
    service of `store` (Store.for_service): a waiver of one service is never seen by another."""

    def __init__(self, store: Store, checklist: Checklist) -> None:
        self.store = store
        self.checklist = checklist

    def grant(self, check_id: str, duration: str | timedelta, reason: str, *, by: str, transport: str = "cli",
              now: datetime | None = None) -> Waiver:
        spec = self.checklist.check(check_id)
        if spec is None:
            raise WaiverError(f"unknown check {check_id!r}: `golive checks` lists them")
        if not waivable(spec):
            self.store.audit(actor=by, action="waiver.refused", subject=f"{self.checklist.name}:{check_id}",
                             detail={"reason": "critical and not waivable", "transport": transport})
            raise WaiverRefused(f"{check_id} is critical and the checklist does not allow waiving it "
                              "(add `waivable: true` to the check if leads may accept it failing)")
        if not reason.strip():
            raise WaiverError("a waiver needs a reason, e.g. `waive smoke.cache 2h cache warms after deploy`")
        span = duration if isinstance(duration, timedelta) else parse_duration(duration)
        now = now or datetime.now(UTC)
        waiver = Waiver(id=uuid.uuid4().hex[:12], check_id=check_id, by=masker.mask(by), until=now + span,
                        reason=masker.mask(reason.strip()))
        self.store.db.execute(
            "INSERT INTO waivers (id, checklist, check_id, granted_by, reason, granted_at, until_at, service) "
            "VALUES (:id, :checklist, :check_id, :by, :reason, :at, :until, :service)",
            {"id": waiver.id, "checklist": self.checklist.name, "service": self.store.service,
             "check_id": check_id, "by": waiver.by,
             "reason": waiver.reason, "at": now_iso(), "until": waiver.until.isoformat()})
        self.store.audit(actor=by, action="waiver.granted", subject=f"{self.checklist.name}:{check_id}",
                         detail={"id": waiver.id, "until": waiver.until.isoformat(), "reason": waiver.reason,
                                 "transport": transport})
        return waiver

    def revoke(self, check_id: str, *, by: str, transport: str = "cli", now: datetime | None = None) -> list[Waiver]:
        """Revoke every live waiver of `check_id`; an error when there is none."""
        live = [w for w in self.active(now) if w.check_id == check_id]
        if not live:
            raise WaiverRefused(f"{check_id} has no live waiver to revoke (`golive status` lists the waivers)")
        for waiver in live:
            self.store.db.execute("UPDATE waivers SET revoked_at = :at, revoked_by = :by WHERE id = :id AND "
                                  "service = :service", {"at": now_iso(), "by": masker.mask(by), "id": waiver.id,
                                                         "service": self.store.service})
        self.store.audit(actor=by, action="waiver.revoked", subject=f"{self.checklist.name}:{check_id}",
                         detail={"ids": [w.id for w in live], "transport": transport})
        return live

    def active(self, now: datetime | None = None) -> list[Waiver]:
        now = now or datetime.now(UTC)
        return [w for w in self.all() if w.active(now)]

    def all(self) -> list[Waiver]:
        """Every waiver not revoked, expired ones included (the deployment record keeps them)."""
        rows = self.store.db.fetchall(
            "SELECT * FROM waivers WHERE service = :s AND checklist = :c AND revoked_at IS NULL ORDER BY granted_at",
            {"c": self.checklist.name, "s": self.store.service})
        return [Waiver(id=r["id"], check_id=r["check_id"], by=r["granted_by"], reason=r["reason"],
                       until=parse_time(r["until_at"])) for r in rows]


def active_waivers(store: Store, checklist: Checklist) -> list[Waiver]:
    return WaiverService(store, checklist).active()
