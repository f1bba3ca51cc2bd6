"""0004: waivers (a lead accepts a failing check until a time, with a reason) and release freezes
(`golive freeze --until`) with their overrides. Both are append-mostly: revoking or lifting stamps the
row, nothing is deleted, so the deployment record can list them afterwards."""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import create_tables

TABLES = (
    """CREATE TABLE IF NOT EXISTS waivers (
        id TEXT PRIMARY KEY,
        checklist TEXT NOT NULL,
        check_id TEXT NOT NULL,
        granted_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        until_at TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS waivers_by_checklist ON waivers (checklist, check_id)",
    """CREATE TABLE IF NOT EXISTS freezes (
        id TEXT PRIMARY KEY,
        checklist TEXT NOT NULL,
        kind TEXT NOT NULL,
        window_id TEXT NOT NULL DEFAULT '',
        starts_at TEXT NOT NULL,
        until_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        lifted_at TEXT,
        lifted_by TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS freezes_by_checklist ON freezes (checklist, until_at)",
)


def upgrade(db: Database) -> None:
    create_tables(db, TABLES)
