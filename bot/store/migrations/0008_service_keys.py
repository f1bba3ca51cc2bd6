"""0008: one bot serves many services; every row of per-service state names its service.

`service` (NOT NULL DEFAULT 'default') is added to the tables whose rows belong to one service's go-live:
runs, results, sign-off requests, waivers, freezes, rollout events and incidents, break-glass records.
Every row written before this step belongs to the default service (bot.services.registry.DEFAULT_KEY),
which is what the column's default gives it: nothing is rewritten, nothing is lost. A freeze whose
service is `*` holds every service (bot.policy.freeze.GLOBAL).

The indexes the per-service reads seek lead with the service now (the ones keyed by checklist alone are
replaced under the same names, so a query plan still names them). Not keyed by a column:
- `signoffs` hang off their request; `messages` off a run id or a subject naming the checklist;
- `kv`: the default service keeps today's keys, another service's are prefixed `svc:<key>:`
  (bot.store.store.Store.for_service), so no key moves;
- `audit` stays one chain; another service's subjects are prefixed `<key>/`.
"""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import columns, table_exists

DEFAULT = "default"
"""bot.services.registry.DEFAULT_KEY, spelled here: a released step never changes with the code it once used."""

TABLES = ("runs", "results", "signoff_requests", "waivers", "freezes", "rollout_events", "rollout_incidents",
          "break_glass")

INDEXES = (
    # (name, columns): an index of the same name keyed by checklist alone is dropped first
    ("runs_by_checklist", "runs (service, checklist, started_at)"),
    ("runs_by_checklist_status", "runs (service, checklist, status, started_at)"),
    ("results_latest", "results (service, checklist, check_id, finished_at, run_id)"),
    ("signoff_requests_by_stage", "signoff_requests (service, checklist, stage, created_at)"),
    ("waivers_by_checklist", "waivers (service, checklist, check_id)"),
    ("freezes_by_checklist", "freezes (service, checklist, until_at)"),
    ("rollout_events_by_checklist", "rollout_events (service, checklist, seq)"),
    ("rollout_events_by_action", "rollout_events (service, checklist, action, ok, at)"),
    ("rollout_incidents_by_checklist", "rollout_incidents (service, checklist, opened_at)"),
    ("rollout_incidents_open", "rollout_incidents (service, checklist, resolved_at)"),
    ("break_glass_by_service", "break_glass (service, checklist, acknowledged_at)"),
)


def upgrade(db: Database) -> None:
    for table in TABLES:
        if table_exists(db, table) and "service" not in columns(db, table):
            db.execute(f"ALTER TABLE {table} ADD COLUMN service TEXT NOT NULL DEFAULT '{DEFAULT}'")
    for name, on in INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
