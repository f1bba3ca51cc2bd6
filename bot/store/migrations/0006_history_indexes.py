"""0006: reading "the latest result of each check" costs O(checks), not O(history); pruning finds old rows
by index.

Results carry their run's checklist (backfilled here), so `Store.latest_results` walks the index
`results_latest (checklist, check_id, finished_at, run_id)`: one seek per check, whatever the history
(bot.store.store.LATEST_SQL). The other indexes serve retention (bot.store.retention) and the rollout's
deployment record (bot.rollout.records), which are computed from indexed queries instead of a full read.
"""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import columns

INDEXES = (
    "CREATE INDEX IF NOT EXISTS results_latest ON results (checklist, check_id, finished_at, run_id)",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at)",
    # the runs still running of a checklist (status card, reaper) without walking its finished ones
    "CREATE INDEX IF NOT EXISTS runs_by_checklist_status ON runs (checklist, status, started_at)",
    "CREATE INDEX IF NOT EXISTS signoff_requests_by_stage ON signoff_requests (checklist, stage, created_at)",
    "CREATE INDEX IF NOT EXISTS signoff_requests_by_run ON signoff_requests (run_id)",
    "CREATE INDEX IF NOT EXISTS rollout_events_by_action ON rollout_events (checklist, action, ok, at)",
    "CREATE INDEX IF NOT EXISTS rollout_events_by_time ON rollout_events (at)",
    "CREATE INDEX IF NOT EXISTS rollout_incidents_open ON rollout_incidents (checklist, resolved_at)",
)


def upgrade(db: Database) -> None:
    if "checklist" not in columns(db, "results"):
        db.execute("ALTER TABLE results ADD COLUMN checklist TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE results SET checklist = COALESCE((SELECT u.checklist FROM runs u WHERE u.id = results.run_id), "
               "'') WHERE checklist = ''")
    for stmt in INDEXES:
        db.execute(stmt)
