"""The rollout's record in the store: every promote/rollback/refusal/pause as a row, every incident as a
row, and the deployment record derived from them (recomputed on each write, so two writers never
lose each other's counts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.rollout.models import APPLIED_KEY, BEFORE_KEY, DEPLOYMENT_KEY, PAUSED_KEY, UNRESTORED_KEY, phase_key
from bot.store import Store
from bot.store.retention import PRUNED_EVENTS_KEY, first_promotion
from bot.store.store import now_iso, parse_time

TIMELINE = 40
"""Moments kept in the deployment record's timeline (the newest)."""

# The tables (rollout_events, rollout_incidents) are created by store migration 0001 (bot/store/migrations).


class RolloutRecords:
    """Synchronous store access for one checklist's rollout (callers use asyncio.to_thread), in the service
    of `store` (Store.for_service): its rows, its kv keys, never another service's."""

    def __init__(self, store: Store, checklist: str) -> None:
        self.store = store
        self.checklist = checklist
        self.service = store.service

    # -- current phase and pause ---------------------------------------------------------------
    def phase(self) -> str | None:
        phase = self.store.get(phase_key(self.checklist))
        return phase if isinstance(phase, str) else None

    def set_phase(self, phase: str | None) -> None:
        self.store.put(phase_key(self.checklist), phase)

    def paused(self) -> dict[str, Any] | None:
        paused = self.store.get(PAUSED_KEY.format(checklist=self.checklist))
        return paused if isinstance(paused, dict) else None

    def set_paused(self, value: dict[str, Any] | None) -> None:
        self.store.put(PAUSED_KEY.format(checklist=self.checklist), value)

    # -- the flags' state --------------------------------------------------------------------
    def applied(self) -> dict[str, Any] | None:
        """What golive left in the flag service after its last promotion or rollback: {phase, flags (as
        text, a percentage as `25%`), state (the provider's snapshot, strategies included, or None), at}."""
        value = self.store.get(APPLIED_KEY.format(checklist=self.checklist))
        return value if isinstance(value, dict) else None

    def set_applied(self, phase: str | None, flags: dict[str, str], state: dict[str, Any] | None) -> None:
        self.store.put(APPLIED_KEY.format(checklist=self.checklist),
                       {"phase": phase, "flags": flags, "state": state, "at": now_iso()})

    def unrestored(self) -> dict[str, Any] | None:
        """{phase, state}: a failed promotion whose flags could not be put back (the service went away)."""
        value = self.store.get(UNRESTORED_KEY.format(checklist=self.checklist))
        return value if isinstance(value, dict) else None

    def set_unrestored(self, value: dict[str, Any] | None) -> None:
        self.store.put(UNRESTORED_KEY.format(checklist=self.checklist), value)

    def before(self, phase: str) -> dict[str, Any] | None:
        """The flags' exact state just before `phase` was promoted: what rolling it back restores."""
        value = self.store.get(BEFORE_KEY.format(checklist=self.checklist, phase=phase))
        return value if isinstance(value, dict) else None

    def set_before(self, phase: str, state: dict[str, Any]) -> None:
        self.store.put(BEFORE_KEY.format(checklist=self.checklist, phase=phase), state)

    # -- events and incidents ------------------------------------------------------------------
    def add_event(self, action: str, *, phase: str | None, from_phase: str | None, actor: str, ok: bool,
                  flags: dict[str, Any] | None = None, reasons: list[str] | None = None) -> None:
        self.store.db.execute(
            "INSERT INTO rollout_events (checklist, action, phase, from_phase, actor, ok, flags, reasons, at, service) "
            "VALUES (:checklist, :action, :phase, :from_phase, :actor, :ok, :flags, :reasons, :at, :service)",
            {"checklist": self.checklist, "service": self.service,
             "action": action, "phase": phase, "from_phase": from_phase,
             "actor": actor, "ok": int(ok), "flags": json.dumps(flags or {}), "reasons": json.dumps(reasons or []),
             "at": now_iso()})
        self.publish_deployment()

    def events(self, action: str | None = None) -> list[dict[str, Any]]:
        where = "AND action = :action" if action else ""
        rows = self.store.db.fetchall(f"SELECT * FROM rollout_events WHERE service = :service AND checklist = "
                                      f":checklist {where} ORDER BY seq",
                                      {"checklist": self.checklist, "action": action, "service": self.service})
        for row in rows:
            row["flags"], row["reasons"], row["ok"] = json.loads(row["flags"]), json.loads(row["reasons"]), \
                bool(row["ok"])
        return rows

    def incident_opened(self, *, id: str, level: str, phase: str, rules: list[str], message: str,
                        opened_at: datetime) -> None:
        self.store.db.execute(
            "INSERT INTO rollout_incidents (id, checklist, level, phase, rules, message, opened_at, service) "
            "VALUES (:id, :checklist, :level, :phase, :rules, :message, :at, :service) ON CONFLICT (id) DO NOTHING",
            {"id": id, "checklist": self.checklist, "service": self.service,
             "level": level, "phase": phase, "rules": ",".join(rules),
             "message": message, "at": opened_at.isoformat()})

    def incident_escalated(self, incident_id: str) -> None:
        self.store.db.execute("UPDATE rollout_incidents SET escalated_at = :at WHERE id = :id AND service = :service",
                              {"id": incident_id, "at": now_iso(), "service": self.service})

    def incident_resolved(self, incident_id: str) -> None:
        self.store.db.execute("UPDATE rollout_incidents SET resolved_at = :at WHERE id = :id AND service = :service",
                              {"id": incident_id, "at": now_iso(), "service": self.service})
        self.publish_deployment()

    def open_incidents(self, *, phase: str | None = None, level: str | None = None) -> list[dict[str, Any]]:
        """Incidents not yet resolved, optionally of one phase or one level (index rollout_incidents_open)."""
        rows = self.store.db.fetchall("SELECT * FROM rollout_incidents WHERE service = :service AND checklist = "
                                      ":checklist AND resolved_at IS NULL ORDER BY opened_at",
                                      {"checklist": self.checklist, "service": self.service})
        return [row for row in rows if (phase is None or row["phase"] == phase)
                and (level is None or row["level"] == level)]

    def incidents(self) -> list[dict[str, Any]]:
        return self.store.db.fetchall("SELECT * FROM rollout_incidents WHERE service = :service AND checklist = "
                                      ":checklist ORDER BY opened_at",
                                      {"checklist": self.checklist, "service": self.service})

    # -- the deployment record -----------------------------------------------------------------
    def deployment(self) -> dict[str, Any]:
        """Started, duration, downtime (P0 incident time), rollback count, promotion success rate.

        Computed from indexed queries (counts by action, the first promotion, the last event, the recent
        moments), never by reading every event, plus what retention folded in before pruning old rows
        (bot.store.retention.PRUNED_EVENTS_KEY), so the figures survive the rows they came from."""
        db, params = self.store.db, {"checklist": self.checklist, "service": self.service}
        pruned = dict(self.store.get(PRUNED_EVENTS_KEY.format(checklist=self.checklist)) or {})
        counts = {(r["action"], bool(r["ok"])): int(r["n"]) for r in db.fetchall(
            "SELECT action, ok, count(*) AS n FROM rollout_events WHERE service = :service AND checklist = :checklist "
            "GROUP BY action, ok",
            params)}
        promotions = counts.get(("promote", True), 0) + counts.get(("promote", False), 0) \
            + int(pruned.get("promotions", 0))
        succeeded = counts.get(("promote", True), 0) + int(pruned.get("promotions_succeeded", 0))
        rollbacks = counts.get(("rollback", True), 0) + int(pruned.get("rollback_count", 0))
        refusals = counts.get(("refused", True), 0) + counts.get(("refused", False), 0) + int(pruned.get("refusals", 0))
        now = datetime.now(UTC)
        started = first_promotion(db, self.service, self.checklist, pruned)
        downtime = float(pruned.get("downtime_seconds", 0.0))
        where = " AND opened_at >= :started" if started else ""
        for incident in db.fetchall(f"SELECT opened_at, resolved_at FROM rollout_incidents WHERE service = "
                                    f":service AND checklist = :checklist AND level = 'P0'{where}",
                                    {**params, "started": started.isoformat() if started else None}):
            opened = parse_time(incident["opened_at"])
            if opened is None or (started and opened < started):
                continue
            downtime += ((parse_time(incident["resolved_at"]) or now) - opened).total_seconds()
        good = max(0, succeeded - rollbacks)
        last_row = db.fetchone("SELECT * FROM rollout_events WHERE service = :service AND checklist = :checklist "
                               "ORDER BY seq DESC LIMIT 1", params)
        last = pruned.get("last_event")
        if last_row:
            last = {k: (bool(last_row[k]) if k == "ok" else last_row[k])
                    for k in ("action", "phase", "from_phase", "actor", "ok", "at")}
        return {
            "checklist": self.checklist,
            "current_phase": self.phase(),
            "started_at": started.isoformat() if started else None,
            "duration_seconds": round((now - started).total_seconds(), 1) if started else 0.0,
            "downtime_seconds": round(downtime, 1),
            "promotions": promotions,
            "promotions_succeeded": succeeded,
            "rollback_count": rollbacks,
            "refusals": refusals,
            "success_rate": round(good / promotions, 4) if promotions else None,
            "paused": self.paused(),
            "flags": dict((self.applied() or {}).get("flags") or {}),
            "last_event": last,
            "timeline": self.timeline(),
            "updated_at": now.isoformat(),
        }

    def timeline(self, events: list[dict[str, Any]] | None = None, *, limit: int = TIMELINE) -> list[dict[str, str]]:
        """Promotions, rollbacks and incidents in time order ({at, kind, text}), for the record's timeline:
        the last `limit` moments, read newest-first by index (or from `events` when given)."""
        if events is None:
            events = self.store.db.fetchall(
                "SELECT * FROM rollout_events WHERE service = :service AND checklist = :checklist AND ok = 1 AND "
                "action IN ('promote', 'rollback') ORDER BY seq DESC LIMIT :limit",
                {"checklist": self.checklist, "limit": limit, "service": self.service})
            for row in events:
                row["ok"] = bool(row["ok"])
        moments = []
        for e in events:
            if e["action"] == "promote" and e["ok"]:
                moments.append({"at": e["at"], "kind": "promote", "text": f"promoted to {e['phase']} by {e['actor']}"})
            elif e["action"] == "rollback" and e["ok"]:
                moments.append({"at": e["at"], "kind": "rollback",
                                "text": f"rolled back {e['from_phase'] or ''} to {e['phase'] or 'no phase'} "
                                        f"by {e['actor']}".replace("  ", " ")})
        params = {"checklist": self.checklist, "limit": limit, "service": self.service}
        for incident in self.store.db.fetchall("SELECT * FROM rollout_incidents WHERE service = :service AND "
                                               "checklist = :checklist ORDER BY opened_at DESC LIMIT :limit", params):
            moments.append({"at": incident["opened_at"], "kind": "incident",
                            "text": f"{incident['level']} {incident['rules']} on {incident['phase']}"})
        for incident in self.store.db.fetchall("SELECT * FROM rollout_incidents WHERE service = :service AND "
                                               "checklist = :checklist AND resolved_at IS NOT NULL "
                                               "ORDER BY resolved_at DESC LIMIT :limit", params):
            moments.append({"at": incident["resolved_at"], "kind": "resolved",
                            "text": f"{incident['level']} {incident['rules']} resolved"})
        return sorted(moments, key=lambda m: m["at"])[-limit:]

    def publish_deployment(self) -> dict[str, Any]:
        record = self.deployment()
        self.store.put(DEPLOYMENT_KEY.format(checklist=self.checklist), record)
        return record
