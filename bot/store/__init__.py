"""The bot's own state: runs, results, posted messages, sign-offs, the audit log, rollout records.

SQLite is the embedded default; PostgreSQL (psycopg) when GOLIVE_DATABASE_URL is set.
"""

from bot.store.db import Database, StoreMisconfigured, StoreUnavailable, open_database
from bot.store.servicekeys import DEFAULT_SERVICE
from bot.store.store import MessageRef, RunRecord, Store, open_store

__all__ = ["DEFAULT_SERVICE", "Database", "MessageRef", "RunRecord", "Store", "StoreMisconfigured", "StoreUnavailable",
           "open_database", "open_store"]
