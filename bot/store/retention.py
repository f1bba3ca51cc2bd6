"""Retention: runs, results and rollout events older than an age are deleted, in small batches.

A go-live bot lives for years; without this its store grows by a run's worth of rows every scheduled
run. What the verdict, the gate or the deployment record still need is never deleted:
- the run holding the latest result of any check (the verdict and the gate read those),
- runs a sign-off request (or a waiver or rollout event, where those name a run) refers to,
- runs still `running`,
- the audit log (append-only; the database refuses it anyway) and the key/value state (the deployment
  record, the current phase).
Rollout events are folded into a per-checklist tally before they go (PRUNED_EVENTS_KEY, in the kv of the
events' service), so the deployment record's counts, start and downtime are the same after pruning as before.
One prune covers every service.

Every transaction deletes at most `batch_size` rows, so no writer waits on a long-held lock; the report
lists each batch's size. A prune that deletes anything appends one audit row (`store.pruned`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.db import Database
from bot.store.migrate import columns
from bot.store.store import Store, parse_time

DEFAULT_RETENTION_DAYS = 180
DEFAULT_BATCH = 500
"""Rows deleted per transaction: a few milliseconds of work on SQLite or PostgreSQL, far under a second."""
MIN_BATCH, MAX_BATCH = 10, 5000  # at least a run with its message references fits in one batch
PRUNED_EVENTS_KEY = "rollout:{checklist}:pruned"
"""What pruned rollout events and incidents contributed to the deployment record (bot.rollout.records)."""

_AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$")
_UNIT = {"d": "days", "": "days", "h": "hours", "w": "weeks"}

# the run holding each check's newest result, for every service's every checklist, walking the index
# results_latest (service, checklist, check_id, ...): O(services + checklists + checks) seeks
_LATEST_RUNS = """WITH RECURSIVE svcs(service) AS (
    SELECT (SELECT min(service) FROM results)
    UNION ALL
    SELECT (SELECT min(service) FROM results WHERE service > svcs.service) FROM svcs
    WHERE svcs.service IS NOT NULL
), lists(service, checklist) AS (
    SELECT svcs.service, (SELECT min(c.checklist) FROM results c WHERE c.service = svcs.service)
    FROM svcs WHERE svcs.service IS NOT NULL
    UNION ALL
    SELECT lists.service, (SELECT min(m.checklist) FROM results m WHERE m.service = lists.service
                           AND m.checklist > lists.checklist)
    FROM lists WHERE lists.checklist IS NOT NULL
), ids(service, checklist, check_id) AS (
    SELECT lists.service, lists.checklist, (SELECT min(f.check_id) FROM results f WHERE f.service = lists.service
                                            AND f.checklist = lists.checklist)
    FROM lists WHERE lists.checklist IS NOT NULL
    UNION ALL
    SELECT ids.service, ids.checklist, (SELECT min(n.check_id) FROM results n WHERE n.service = ids.service
                                        AND n.checklist = ids.checklist AND n.check_id > ids.check_id)
    FROM ids WHERE ids.check_id IS NOT NULL
)
SELECT (SELECT l.run_id FROM results l WHERE l.service = ids.service AND l.checklist = ids.checklist
        AND l.check_id = ids.check_id ORDER BY l.finished_at DESC, l.run_id DESC LIMIT 1) AS run_id
FROM ids WHERE ids.check_id IS NOT NULL"""


def parse_age(text: str) -> timedelta:
    """'90d', '90' (days), '36h', '12w'; a clear ValueError otherwise."""
    match = _AGE.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"age {text!r} is not understood: give a positive number of days, hours or weeks, "
                         "e.g. 90d, 36h or 12w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def retention_days(env: dict[str, str] | None = None) -> int:
    """GOLIVE_RETENTION_DAYS (default 180); 0 turns the scheduled prune off."""
    raw = (os.environ if env is None else env).get("GOLIVE_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if not raw.isdigit():
        raise ValueError(f"GOLIVE_RETENTION_DAYS={raw!r} must be a whole number of days (0 keeps everything)")
    return int(raw)


@dataclass
class PruneReport:
    cutoff: datetime
    dry_run: bool
    runs: int = 0
    results: int = 0
    other_rows: int = 0  # posted-message references and delivery-failure notes of pruned runs
    events: int = 0
    incidents: int = 0
    kept_runs: int = 0  # older than the cutoff but kept: still running, or the verdict, gate or a sign-off needs them
    batches: list[int] = field(default_factory=list)  # rows deleted per transaction

    @property
    def deleted(self) -> int:
        return self.runs + self.results + self.other_rows + self.events + self.incidents

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "dry_run": self.dry_run, "runs": self.runs,
                "results": self.results, "other_rows": self.other_rows, "rollout_events": self.events,
                "rollout_incidents": self.incidents, "kept_runs": self.kept_runs, "batches": len(self.batches),
                "largest_batch": max(self.batches, default=0)}


def protected_runs(db: Database) -> set[str]:
    """Runs that must outlive any retention: each check's latest result, and whatever names a run."""
    keep = {r["run_id"] for r in db.fetchall(_LATEST_RUNS) if r["run_id"]}
    for table in ("signoff_requests", "waivers", "rollout_events"):
        if "run_id" in columns(db, table):
            keep |= {r["run_id"] for r in db.fetchall(f"SELECT DISTINCT run_id FROM {table} "
                                                       "WHERE run_id IS NOT NULL")}
    return keep


def _count(db: Database, sql: str, params: dict[str, Any]) -> int:
    row = db.fetchone(sql, params)
    return int(row["n"]) if row else 0


def _placeholders(values: Iterable[str], params: dict[str, Any]) -> str:
    """':keep0, :keep1, ...' with the values put in params ('' when there are none)."""
    names = []
    for n, value in enumerate(sorted(values)):
        params[f"keep{n}"] = value
        names.append(f":keep{n}")
    return ", ".join(names)


def prune(store: Store, older_than: timedelta, *, dry_run: bool = True, batch_size: int = DEFAULT_BATCH,
          actor: str = "golive", now: datetime | None = None,
          on_batch: Callable[[int], None] | None = None) -> PruneReport:
    """Delete (or, dry run, count) what is older than `older_than`; see the module docstring."""
    batch_size = max(MIN_BATCH, min(batch_size, MAX_BATCH))
    cutoff = (now or datetime.now(UTC)) - older_than
    report = PruneReport(cutoff=cutoff, dry_run=dry_run)
    db = store.db
    keep = protected_runs(db)
    params: dict[str, Any] = {"cutoff": cutoff.isoformat(timespec="microseconds")}
    old = "started_at < :cutoff AND status <> 'running'"
    where = old
    if keep:
        where += f" AND id NOT IN ({_placeholders(keep, params)})"
    prunable = _count(db, f"SELECT count(*) AS n FROM runs WHERE {where}", params)
    report.kept_runs = _count(db, "SELECT count(*) AS n FROM runs WHERE started_at < :cutoff", params) - prunable
    if dry_run:
        report.runs = prunable
        report.results = _count(db, f"SELECT count(*) AS n FROM results WHERE run_id IN (SELECT id FROM runs "
                                    f"WHERE {where})", params)
        report.events = _count(db, "SELECT count(*) AS n FROM rollout_events WHERE at < :cutoff", params)
        report.incidents = _count(db, "SELECT count(*) AS n FROM rollout_incidents WHERE resolved_at IS NOT NULL "
                                      "AND resolved_at < :cutoff", params)
        return report

    def done(size: int) -> None:
        report.batches.append(size)
        if on_batch is not None:
            on_batch(size)

    while (size := _prune_runs_batch(store, where, params, batch_size, report)) > 0:
        done(size)
    while (size := _prune_events_batch(store, params["cutoff"], batch_size, report)) > 0:
        done(size)
    while (size := _prune_incidents_batch(store, params["cutoff"], batch_size, report)) > 0:
        done(size)
    if report.deleted:
        store.audit(actor=actor, action="store.pruned", subject="store",
                    detail={**report.as_dict(), "older_than_days": round(older_than.total_seconds() / 86400, 2)})
    return report


def _prune_runs_batch(store: Store, where: str, params: dict[str, Any], batch_size: int,
                      report: PruneReport) -> int:
    """One transaction: the oldest prunable runs, their results, messages and notes; at most batch_size rows.
    A run with more results than the batch loses them over several batches, and goes in the last one."""
    budget = batch_size
    with store.db.transaction() as tx:
        rows = tx.fetchall(f"SELECT id, service FROM runs WHERE {where} ORDER BY started_at, id LIMIT :limit",
                           {**params, "limit": batch_size})
        for row in rows:
            note = store.for_service(row["service"]).kv_key(f"delivery-failures:{row['id']}")
            run = {"id": row["id"], "note": note}
            extra = _count(tx, "SELECT count(*) AS n FROM messages WHERE subject = :id", run)
            extra += _count(tx, "SELECT count(*) AS n FROM kv WHERE key = :note", run)
            room = budget - extra - 1  # what is left for results once the run and its extras are counted
            if room < 0:
                break
            limit = room + 1  # one more than fits: tells "all gone" (fewer) from "more remain" (exactly)
            deleted = tx.execute("DELETE FROM results WHERE run_id = :id AND check_id IN (SELECT check_id FROM "
                                 "results WHERE run_id = :id ORDER BY check_id LIMIT :limit)",
                                 {**run, "limit": min(limit, budget)})
            report.results += deleted
            budget -= deleted
            if deleted >= limit or budget < extra + 1:
                break  # results remain (or no room for the run itself): the next batch continues here
            report.other_rows += tx.execute("DELETE FROM messages WHERE subject = :id", run)
            report.other_rows += tx.execute("DELETE FROM kv WHERE key = :note", run)
            report.runs += tx.execute("DELETE FROM runs WHERE id = :id", run)
            budget -= extra + 1
            if budget <= 0:
                break
    return batch_size - budget


Tallies = dict[tuple[str, str], dict[str, Any]]
"""(service, checklist) -> what its pruned rows contributed."""


def _tally(store: Store, service: str, checklist: str) -> dict[str, Any]:
    return dict(store.for_service(service).get(PRUNED_EVENTS_KEY.format(checklist=checklist)) or {})


def _save(store: Store, tallies: Tallies) -> None:
    for (service, checklist), t in tallies.items():
        store.for_service(service).put(PRUNED_EVENTS_KEY.format(checklist=checklist), t)


def _prune_events_batch(store: Store, cutoff: str, batch_size: int, report: PruneReport) -> int:
    """The oldest rollout events before the cutoff, folded into their checklist's tally, then deleted."""
    with store.db.transaction() as tx:
        rows = tx.fetchall("SELECT * FROM rollout_events WHERE at < :cutoff ORDER BY at, seq LIMIT :limit",
                           {"cutoff": cutoff, "limit": batch_size})
        tallies: Tallies = {}
        for row in rows:
            key = (row["service"], row["checklist"])
            t = tallies[key] if key in tallies else tallies.setdefault(key, _tally(store, *key))
            action, ok = row["action"], bool(row["ok"])
            t["promotions"] = t.get("promotions", 0) + (action == "promote")
            t["promotions_succeeded"] = t.get("promotions_succeeded", 0) + (action == "promote" and ok)
            t["rollback_count"] = t.get("rollback_count", 0) + (action == "rollback" and ok)
            t["refusals"] = t.get("refusals", 0) + (action == "refused")
            if action == "promote" and ok and (not t.get("started_at") or row["at"] < t["started_at"]):
                t["started_at"] = row["at"]
            t["last_event"] = {"action": action, "phase": row["phase"], "from_phase": row["from_phase"],
                               "actor": row["actor"], "ok": ok, "at": row["at"]}
            tx.execute("DELETE FROM rollout_events WHERE seq = :seq", {"seq": row["seq"]})
        _save(store, tallies)
        report.events += len(rows)
    return len(rows)


def _prune_incidents_batch(store: Store, cutoff: str, batch_size: int, report: PruneReport) -> int:
    """Resolved incidents before the cutoff; a P0's downtime (counted from the first promotion, as the
    deployment record counts it) goes into the tally first."""
    with store.db.transaction() as tx:
        rows = tx.fetchall("SELECT * FROM rollout_incidents WHERE resolved_at IS NOT NULL AND resolved_at < :cutoff "
                           "ORDER BY resolved_at, id LIMIT :limit", {"cutoff": cutoff, "limit": batch_size})
        tallies: Tallies = {}
        for row in rows:
            key = (row["service"], row["checklist"])
            t = tallies[key] if key in tallies else tallies.setdefault(key, _tally(store, *key))
            opened, resolved = parse_time(row["opened_at"]), parse_time(row["resolved_at"])
            started = first_promotion(tx, row["service"], row["checklist"], t)
            if row["level"] == "P0" and opened and resolved and (started is None or opened >= started):
                t["downtime_seconds"] = round(t.get("downtime_seconds", 0.0) + (resolved - opened).total_seconds(), 3)
            tx.execute("DELETE FROM rollout_incidents WHERE id = :id", {"id": row["id"]})
        _save(store, tallies)
        report.incidents += len(rows)
    return len(rows)


def first_promotion(db: Database, service: str, checklist: str, tally: dict[str, Any]) -> datetime | None:
    """When a service's deployment started: its first successful promotion, pruned (in the tally) or stored."""
    row = db.fetchone("SELECT min(at) AS at FROM rollout_events WHERE service = :s AND checklist = :c AND "
                      "action = 'promote' AND ok = 1", {"s": service, "c": checklist})
    candidates = [v for v in (tally.get("started_at"), row["at"] if row else None) if v]
    return parse_time(min(candidates)) if candidates else None


def dumps(report: PruneReport) -> str:
    return json.dumps(report.as_dict())
