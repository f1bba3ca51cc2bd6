"""0001: the schema of release v0.1.0 (before versioning), rollout tables included.

A v0.1.0 database already has these tables: every statement is IF NOT EXISTS, and a table that lacks
a column declared here gets it added, so such a store is adopted (stamped 0001) with its rows intact.
"""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import create_tables

CORE = [
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        checklist TEXT NOT NULL,
        selector TEXT NOT NULL,
        requested_by TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'cli',
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        verdict TEXT,
        wall_ms REAL,
        expected TEXT NOT NULL DEFAULT '[]'
    )""",
    "CREATE INDEX IF NOT EXISTS runs_by_checklist ON runs (checklist, started_at)",
    """CREATE TABLE IF NOT EXISTS results (
        run_id TEXT NOT NULL REFERENCES runs(id),
        check_id TEXT NOT NULL,
        phase TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        criticality TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        duration_ms REAL NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        needs_confirmation INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, check_id)
    )""",
    "CREATE INDEX IF NOT EXISTS results_by_check ON results (check_id, finished_at)",
    """CREATE TABLE IF NOT EXISTS messages (
        subject TEXT NOT NULL,
        transport TEXT NOT NULL,
        purpose TEXT NOT NULL,
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,
        thread_ts TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (subject, transport, purpose)
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq {autoid},
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE IF NOT EXISTS signoff_requests (
        id TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        checklist TEXT NOT NULL,
        run_id TEXT,
        requested_by TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open'
    )""",
    """CREATE TABLE IF NOT EXISTS signoffs (
        request_id TEXT NOT NULL REFERENCES signoff_requests(id),
        role TEXT NOT NULL,
        decision TEXT NOT NULL,
        user_id TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL,
        PRIMARY KEY (request_id, role)
    )""",
    """CREATE TABLE IF NOT EXISTS kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
]

ROLLOUT = [
    """CREATE TABLE IF NOT EXISTS rollout_events (
        seq {autoid},
        checklist TEXT NOT NULL,
        action TEXT NOT NULL,
        phase TEXT,
        from_phase TEXT,
        actor TEXT NOT NULL DEFAULT '',
        ok INTEGER NOT NULL,
        flags TEXT NOT NULL DEFAULT '{}',
        reasons TEXT NOT NULL DEFAULT '[]',
        at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS rollout_events_by_checklist ON rollout_events (checklist, seq)",
    """CREATE TABLE IF NOT EXISTS rollout_incidents (
        id TEXT PRIMARY KEY,
        checklist TEXT NOT NULL,
        level TEXT NOT NULL,
        phase TEXT NOT NULL,
        rules TEXT NOT NULL,
        message TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        escalated_at TEXT,
        resolved_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS rollout_incidents_by_checklist ON rollout_incidents (checklist, opened_at)",
]

APPEND_ONLY = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    ],
    "postgres": [
        """CREATE OR REPLACE FUNCTION golive_audit_append_only() RETURNS trigger AS $fn$
           BEGIN RAISE EXCEPTION 'audit log is append-only'; END $fn$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS audit_append_only ON audit",
        """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
           FOR EACH ROW EXECUTE FUNCTION golive_audit_append_only()""",
    ],
}


def upgrade(db: Database) -> None:
    create_tables(db, [*CORE, *ROLLOUT])
    for stmt in APPEND_ONLY[db.dialect]:
        db.execute(stmt)
