"""The store's operations. Everything written is masked first: no secret reaches a row."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.store.audit import GENESIS, ROTATION, UNKEYED, ChainBreak, ChainReport, row_mac, verify_chain
from bot.store.auditkey import AuditKeys, keys_from_settings
from bot.store.db import Database, open_database
from bot.store.migrate import migrate
from bot.store.servicekeys import DEFAULT_SERVICE, service_key
from checks.masking import masker
from checks.result import CheckResult
from checks.spec import CheckSpec
from checks.verdict import Verdict


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class RunRecord:
    id: str
    checklist: str
    selector: str
    requested_by: str
    source: str
    status: str  # running | finished | interrupted (its owner died) | incomplete (results not all stored)
    started_at: datetime
    finished_at: datetime | None
    verdict: Verdict | None
    wall_ms: float | None
    expected: list[str] = field(default_factory=list)
    owner: str = ""  # the process running it (bot.runs.durable.OWNER); its heartbeat keeps the run alive
    heartbeat_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        return cls(
            id=row["id"], checklist=row["checklist"], selector=row["selector"], requested_by=row["requested_by"],
            source=row["source"], status=row["status"], started_at=parse_time(row["started_at"]),  # type: ignore[arg-type]  # stored times parse
            finished_at=parse_time(row["finished_at"]),
            verdict=Verdict.model_validate_json(row["verdict"]) if row["verdict"] else None,
            wall_ms=row["wall_ms"], expected=json.loads(row.get("expected") or "[]"),
            owner=row.get("owner") or "", heartbeat_at=parse_time(row.get("heartbeat_at")),
        )


@dataclass
class MessageRef:
    subject: str
    transport: str
    purpose: str
    channel: str
    ts: str
    thread_ts: str | None


# "The latest result of each check" without reading the history. PostgreSQL's DISTINCT ON (and SQLite's
# GROUP BY with max()) would still walk every index entry of the checklist: O(history). Instead, a loose
# index scan: the recursive part jumps from one check_id to the next in results_latest (one seek each),
# and each check's newest row is one backward seek in the same index. Cost: O(checks x log(rows)).
_NEXT_CHECK = """WITH RECURSIVE ids(check_id) AS (
    SELECT (SELECT min(f.check_id) FROM results f WHERE f.service = :service AND f.checklist = :checklist)
    UNION ALL
    SELECT (SELECT min(n.check_id) FROM results n WHERE n.service = :service AND n.checklist = :checklist
            AND n.check_id > ids.check_id)
    FROM ids WHERE ids.check_id IS NOT NULL
)"""
LATEST_SQL = {
    "postgres": _NEXT_CHECK + """
SELECT r.* FROM ids CROSS JOIN LATERAL (
    SELECT * FROM results l WHERE l.service = :service AND l.checklist = :checklist AND l.check_id = ids.check_id
    ORDER BY l.finished_at DESC, l.run_id DESC LIMIT 1) r""",
    "sqlite": _NEXT_CHECK + """
SELECT r.* FROM ids JOIN results r ON r.rowid = (
    SELECT l.rowid FROM results l WHERE l.service = :service AND l.checklist = :checklist AND l.check_id = ids.check_id
    ORDER BY l.finished_at DESC, l.run_id DESC LIMIT 1)""",
}
AUDIT_PAGE = 2000
"""Audit rows read per query while verifying: memory stays bounded whatever the length of the log."""


class Store:
    """The store, as one service sees it. The store a bot opens is the default service's (the rows written
    before services existed); `for_service` gives another service's view of the same database."""

    def __init__(self, db: Database, *, audit_keys: AuditKeys | None = None, service: str = DEFAULT_SERVICE,
                 root: Store | None = None) -> None:
        if not service or not service.strip():
            raise ValueError("a service's store key cannot be empty: name the service")
        self.db = db
        self._audit_keys = audit_keys
        self.service = service
        self._root = root

    def for_service(self, key: str) -> Store:
        """The view of service `key`: the same database (connection or pool) and audit chain, every
        per-service read filtered and every write tagged by `key`. `DEFAULT_SERVICE` gives the root's view."""
        root = self._root or self
        if key == root.service:
            return root
        return Store(self.db, service=key, root=root)

    @property
    def is_default(self) -> bool:
        return self.service == DEFAULT_SERVICE

    def kv_key(self, key: str) -> str:
        """The kv key this service stores `key` under: unchanged for the default service."""
        return service_key(self.service, key)

    def subject(self, subject: str) -> str:
        """An audit subject as this service records it: another service's names it (`hunter/<subject>`)."""
        return subject if self.is_default else f"{self.service}/{subject}"

    @property
    def audit_keys(self) -> AuditKeys:
        """The audit key(s), held outside the database (bot.store.auditkey); resolved on first use."""
        if self._root is not None:  # one chain, one key set, whichever service writes
            return self._root.audit_keys
        if self._audit_keys is None:
            self._audit_keys = keys_from_settings()
        return self._audit_keys

    # -- lifecycle -----------------------------------------------------------------------------
    def migrate(self) -> Store:
        """Apply the pending numbered migrations (bot/store/migrations) under the migration lock."""
        migrate(self.db)
        return self

    def ping(self) -> None:
        """Readiness: the store answers *and takes a write* (a full disk or read-only file answers SELECT)."""
        self.db.ping()
        self.put("golive:probe:writable", now_iso())

    def close(self) -> None:
        """Close the database; a service's view leaves it open for the bot and the other services."""
        if self._root is None:
            self.db.close()

    # -- runs and results ----------------------------------------------------------------------
    def create_run(self, *, checklist: str, selector: str, requested_by: str = "", source: str = "cli",
                   expected: Sequence[CheckSpec] = (), run_id: str | None = None, owner: str = "") -> RunRecord:
        run_id = run_id or uuid.uuid4().hex[:16]
        at = now_iso()
        self.db.execute(
            "INSERT INTO runs (id, checklist, selector, requested_by, source, status, started_at, expected, owner,"
            " heartbeat_at, service) VALUES (:id, :checklist, :selector, :requested_by, :source, 'running',"
            " :started_at, :expected, :owner, :started_at, :service)",
            {"id": run_id, "checklist": checklist, "service": self.service,
             "selector": selector, "requested_by": masker.mask(requested_by),
             "source": source, "started_at": at, "expected": json.dumps([c.id for c in expected]), "owner": owner},
        )
        run = self.get_run(run_id)
        assert run is not None
        return run

    def add_result(self, run_id: str, result: CheckResult) -> None:
        r = result
        params = {
            "run_id": run_id, "check_id": r.check_id, "phase": r.phase, "kind": r.kind, "title": r.title,
            "criticality": r.criticality.value, "status": r.status.value, "summary": masker.mask(r.summary),
            "evidence": json.dumps(masker.mask_data(r.evidence), default=str),
            "duration_ms": r.duration_ms, "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat(), "needs_confirmation": int(r.needs_confirmation),
        }
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM results WHERE run_id = :run_id AND check_id = :check_id", params)
            # the run's service and checklist are copied onto the result: the latest-result index is keyed by them
            tx.execute(
                "INSERT INTO results (run_id, check_id, phase, kind, title, criticality, status, summary, evidence,"
                " duration_ms, started_at, finished_at, needs_confirmation, checklist, service) VALUES (:run_id,"
                " :check_id, :phase, :kind, :title, :criticality, :status, :summary, :evidence, :duration_ms,"
                " :started_at, :finished_at, :needs_confirmation,"
                " COALESCE((SELECT checklist FROM runs WHERE id = :run_id), ''),"
                " COALESCE((SELECT service FROM runs WHERE id = :run_id), :service))",
                {**params, "service": self.service})

    def confirm_result(self, run_id: str, check_id: str, *, summary: str, evidence: dict[str, Any]) -> bool:
        """Turn a result awaiting a person's confirmation into a pass; False when it no longer awaits one
        (already confirmed by a concurrent click), so exactly one confirmation is recorded."""
        return self.db.execute(
            "UPDATE results SET status = 'pass', needs_confirmation = 0, summary = :summary, evidence = :evidence "
            "WHERE run_id = :run_id AND check_id = :check_id AND needs_confirmation = 1",
            {"run_id": run_id, "check_id": check_id, "summary": masker.mask(summary),
             "evidence": json.dumps(masker.mask_data(evidence), default=str)}) > 0

    def finish_run(self, run_id: str, verdict: Verdict, *, wall_ms: float | None = None,
                   status: str = "finished") -> None:
        self.db.execute(
            "UPDATE runs SET status = :status, finished_at = :at, verdict = :verdict, wall_ms = :wall_ms "
            "WHERE id = :id",
            {"id": run_id, "status": status, "at": now_iso(), "wall_ms": wall_ms,
             # masked as data, then serialized: never rewritten inside the JSON text
             "verdict": json.dumps(masker.scrub_data(verdict.model_dump(mode="json")))},
        )

    def heartbeat(self, run_ids: Sequence[str]) -> int:
        """The owner of these runs is alive: push their heartbeat forward (only while they are running)."""
        at, count = now_iso(), 0
        for run_id in run_ids:
            count += self.db.execute("UPDATE runs SET heartbeat_at = :at WHERE id = :id AND status = 'running'",
                                     {"id": run_id, "at": at})
        return count

    def reap_expired_runs(self, ttl: float, *, checklist: str | None = None) -> list[RunRecord]:
        """Mark interrupted every run still 'running' whose owner's heartbeat is older than `ttl` seconds,
        whatever started it (chat, scheduler, CLI). A live run's owner keeps beating, so a replica that
        cannot see a lock (or Redis) never interrupts it. Concurrent reapers report each run once."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=ttl)).isoformat(timespec="microseconds")
        where = "service = :service AND status = 'running' AND COALESCE(heartbeat_at, started_at) < :cutoff"
        params: dict[str, Any] = {"cutoff": cutoff, "at": now_iso(), "service": self.service}
        if checklist:
            where += " AND checklist = :checklist"
            params["checklist"] = checklist
        reaped = []
        for row in self.db.fetchall(f"SELECT id FROM runs WHERE {where}", params):
            if self.db.execute(f"UPDATE runs SET status = 'interrupted', finished_at = :at WHERE id = :id AND {where}",
                               {**params, "id": row["id"]}) > 0:
                run = self.get_run(row["id"])
                if run is not None:
                    reaped.append(run)
        return reaped

    def mark_incomplete(self, run_id: str) -> bool:
        """Results of this run could not all be stored: it decides nothing (never GO)."""
        return self.db.execute(
            "UPDATE runs SET status = 'incomplete', finished_at = :at, verdict = NULL WHERE id = :id "
            "AND status = 'running'", {"id": run_id, "at": now_iso()}) > 0

    def mark_interrupted(self, run_id: str) -> bool:
        """Flag a run that was still 'running' when its process died; True if it changed."""
        return self.db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = :at WHERE id = :id AND status = 'running'",
            {"id": run_id, "at": now_iso()}) > 0

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self.db.fetchone("SELECT * FROM runs WHERE id = :id", {"id": run_id})
        return RunRecord.from_row(row) if row else None

    def runs(self, *, status: str | None = None, checklist: str | None = None, limit: int = 20) -> list[RunRecord]:
        """This service's runs, newest first."""
        clauses: list[str] = ["service = :service"]
        params: dict[str, Any] = {"limit": limit, "service": self.service}
        if status:
            clauses.append("status = :status")
            params["status"] = status
        if checklist:
            clauses.append("checklist = :checklist")
            params["checklist"] = checklist
        where = f"WHERE {' AND '.join(clauses)}"
        rows = self.db.fetchall(f"SELECT * FROM runs {where} ORDER BY started_at DESC LIMIT :limit", params)
        return [RunRecord.from_row(r) for r in rows]

    def results(self, run_id: str) -> list[CheckResult]:
        rows = self.db.fetchall("SELECT * FROM results WHERE run_id = :run_id ORDER BY finished_at", {"run_id": run_id})
        return [_result_from_row(r) for r in rows]

    def latest_results(self, checklist: str) -> dict[str, CheckResult]:
        """The most recent result of every check ever run for this checklist: one indexed query whose cost
        grows with the number of checks, not with the history (see LATEST_SQL)."""
        rows = self.db.fetchall(LATEST_SQL[self.db.dialect], {"checklist": checklist, "service": self.service})
        return {row["check_id"]: _result_from_row(row) for row in rows}

    # -- posted messages -----------------------------------------------------------------------
    def remember_message(self, *, subject: str, transport: str, purpose: str, channel: str, ts: str,
                         thread_ts: str | None = None) -> None:
        params = {"subject": subject, "transport": transport, "purpose": purpose, "channel": channel, "ts": ts,
                  "thread_ts": thread_ts, "at": now_iso()}
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM messages WHERE subject = :subject AND transport = :transport AND "
                       "purpose = :purpose", params)
            tx.execute("INSERT INTO messages (subject, transport, purpose, channel, ts, thread_ts, created_at) "
                       "VALUES (:subject, :transport, :purpose, :channel, :ts, :thread_ts, :at)", params)

    def message(self, subject: str, transport: str, purpose: str = "parent") -> MessageRef | None:
        row = self.db.fetchone("SELECT * FROM messages WHERE subject = :s AND transport = :t AND purpose = :p",
                               {"s": subject, "t": transport, "p": purpose})
        return MessageRef(**{k: row[k] for k in ("subject", "transport", "purpose", "channel", "ts", "thread_ts")}) \
            if row else None

    def messages(self, subject: str) -> list[MessageRef]:
        rows = self.db.fetchall("SELECT * FROM messages WHERE subject = :s ORDER BY created_at", {"s": subject})
        return [MessageRef(**{k: r[k] for k in ("subject", "transport", "purpose", "channel", "ts", "thread_ts")})
                for r in rows]

    # -- audit log (append-only) ---------------------------------------------------------------
    def audit(self, *, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        """Append one row to the keyed chain: the previous row's hash and an HMAC under the current audit
        key. A new current key first appends a rotation row naming the old and new key ids. One chain for every
        service; another service's subject is prefixed with its key (`Store.subject`)."""
        keys = self.audit_keys
        row = {"at": now_iso(), "actor": masker.mask(actor), "action": action,
               "subject": masker.mask(self.subject(subject)),
               "detail": json.dumps(masker.mask_data(detail or {}), default=str)}
        with self.db.transaction() as tx:
            if tx.dialect == "postgres":  # one writer at the tail at a time (SQLite's write lock already is)
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('golive-audit:' || coalesce(current_schema(), '')))")
            last = tx.fetchone("SELECT hash, key_id FROM audit ORDER BY seq DESC LIMIT 1")
            prev = last["hash"] if last else GENESIS
            if last and last["key_id"] not in (UNKEYED, keys.current_id):
                rotation = {"at": row["at"], "actor": "golive", "action": ROTATION, "subject": "audit",
                            "detail": json.dumps({"from": last["key_id"], "to": keys.current_id})}
                prev = self._append(tx, rotation, prev, keys)
            self._append(tx, row, prev, keys)

    @staticmethod
    def _append(tx: Database, row: dict[str, Any], prev: str, keys: AuditKeys) -> str:
        mac = row_mac(keys.current, keys.current_id, prev, row)
        tx.execute("INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash, key_id) "
                   "VALUES (:at, :actor, :action, :subject, :detail, :prev_hash, :hash, :key_id)",
                   {**row, "prev_hash": prev, "hash": mac, "key_id": keys.current_id})
        return mac

    def audit_rows(self, page: int = AUDIT_PAGE) -> Iterator[dict[str, Any]]:
        """Every audit row in seq order, `page` rows per query (keyset pagination): a stream, never a list."""
        after = -1
        while True:
            rows = self.db.fetchall("SELECT * FROM audit WHERE seq > :after ORDER BY seq LIMIT :page",
                                    {"after": after, "page": page})
            yield from rows
            if len(rows) < page:
                return
            after = int(rows[-1]["seq"])

    def audit_report(self, *, watch: Iterable[int] = ()) -> ChainReport:
        """Walk the whole chain with the configured keys (streamed): the report, its first break if any."""
        return verify_chain(self.audit_rows(), self.audit_keys.keys, watch=watch)

    def verify_audit(self) -> tuple[int, ChainBreak | None]:
        """Walk the whole chain in seq order: (rows checked, first break or None)."""
        report = self.audit_report()
        return report.count, report.broken

    def audit_head(self) -> tuple[int, int, str]:
        """(row count, last seq, last hash): what a witness records."""
        count = self.db.fetchone("SELECT COUNT(*) AS n FROM audit")
        last = self.db.fetchone("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        return int(count["n"]) if count else 0, int(last["seq"]) if last else 0, str(last["hash"]) if last else GENESIS

    def audit_log(self, *, subject: str | None = None, action: str | None = None, limit: int = 100,
                  ) -> list[dict[str, Any]]:
        clauses, params = [], {"limit": limit}
        if subject:
            clauses.append("subject = :subject")
            params["subject"] = self.subject(subject)  # type: ignore[assignment]  # params mixes int and str
        if action:
            clauses.append("action = :action")
            params["action"] = action  # type: ignore[assignment]  # params mixes int and str
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.fetchall(f"SELECT * FROM audit {where} ORDER BY seq DESC LIMIT :limit", params)
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return rows

    # -- key/value state (current rollout phase, leases' bookkeeping, ...) ---------------------
    def put(self, key: str, value: Any) -> None:
        params = {"key": self.kv_key(key), "value": json.dumps(masker.mask_data(value), default=str), "at": now_iso()}
        # one statement (an upsert, in both SQLite and PostgreSQL): two writers of one key never collide
        self.db.execute("INSERT INTO kv (key, value, updated_at) VALUES (:key, :value, :at) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", params)

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.fetchone("SELECT value FROM kv WHERE key = :key", {"key": self.kv_key(key)})
        return json.loads(row["value"]) if row else default


def _result_from_row(row: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check_id=row["check_id"], title=row["title"], kind=row["kind"], phase=row["phase"],
        criticality=row["criticality"], status=row["status"], summary=row["summary"],
        evidence=json.loads(row["evidence"]), duration_ms=row["duration_ms"],
        started_at=datetime.fromisoformat(row["started_at"]), finished_at=datetime.fromisoformat(row["finished_at"]),
        needs_confirmation=bool(row["needs_confirmation"]),
    )


def open_store(url: str | None = None, *, sqlite_path: str | Path = "golive-state/golive.db",
               schema: str | None = None, timeout: float | None = None, audit_keys: AuditKeys | None = None) -> Store:
    return Store(open_database(url, sqlite_path=sqlite_path, schema=schema, timeout=timeout),
                 audit_keys=audit_keys).migrate()


def ids(items: Iterable[CheckSpec]) -> list[str]:
    return [c.id for c in items]
