"""0003: runs record their owner (which process runs them) and that owner's last heartbeat.

A sweep marks a run interrupted only when its heartbeat has expired (bot.store.store.reap_expired_runs),
whatever started it: Slack, Teams, the scheduler or the CLI. Runs from before this step have no
heartbeat; they are judged by their start time.
"""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import columns


def upgrade(db: Database) -> None:
    have = columns(db, "runs")
    if "owner" not in have:
        db.execute("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
    if "heartbeat_at" not in have:
        db.execute("ALTER TABLE runs ADD COLUMN heartbeat_at TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, heartbeat_at)")
