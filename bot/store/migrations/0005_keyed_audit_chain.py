"""0005: the audit chain becomes keyed (bot.store.audit), and break-glass actions get a table.

Each audit row names the key that signed it (`key_id`). Rows written before this step keep their
sha256 hashes and get `key_id = ''`: `golive audit verify` reports them as "unkeyed, before <date>".
They cannot be keyed now (the migration has no business holding the key); the first keyed row signs
the last unkeyed row's hash, so they cannot be rewritten unnoticed after it either.

`break_glass` holds the CLI actions taken without the access table (chat down): who (OS user, host,
mapped chat id if any), what, why, when it was announced in the release channel and who acknowledged it.
"""

from __future__ import annotations

from bot.store.db import Database
from bot.store.migrate import columns, create_tables

BREAK_GLASS = """CREATE TABLE IF NOT EXISTS break_glass (
        id TEXT PRIMARY KEY,
        checklist TEXT NOT NULL,
        verb TEXT NOT NULL,
        os_user TEXT NOT NULL,
        host TEXT NOT NULL,
        chat_user TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        announced_at TEXT,
        acknowledged_at TEXT,
        acknowledged_by TEXT
    )"""


def upgrade(db: Database) -> None:
    if "key_id" not in columns(db, "audit"):
        db.execute("ALTER TABLE audit ADD COLUMN key_id TEXT NOT NULL DEFAULT ''")
    create_tables(db, [BREAK_GLASS])
