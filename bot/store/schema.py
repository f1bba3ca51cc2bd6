"""Tables of the bot's store. Portable SQL: TEXT/INTEGER/REAL only, times as ISO-8601 UTC text."""

from __future__ import annotations

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

# The audit log is append-only: the database itself refuses UPDATE and DELETE.
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
