"""0002: the audit log becomes a hash chain, and SQLite refuses INSERT OR REPLACE over a row.

Rows written before this step are chained in seq order now (the chain certifies them from here on).
PostgreSQL also refuses TRUNCATE; the owner role can still disable triggers, which is why the README
has the bot write as a role that does not own the table.
"""

from __future__ import annotations

from bot.store.audit import GENESIS, row_hash
from bot.store.db import Database
from bot.store.migrate import columns

NO_UPDATE_SQLITE = """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"""


def upgrade(db: Database) -> None:
    have = columns(db, "audit")
    for name in ("prev_hash", "hash"):
        if name not in have:
            db.execute(f"ALTER TABLE audit ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")
    if db.dialect == "sqlite":
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    else:
        db.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
    prev = GENESIS
    for row in db.fetchall("SELECT * FROM audit ORDER BY seq"):
        digest = row_hash(prev, row)
        db.execute("UPDATE audit SET prev_hash = :p, hash = :h WHERE seq = :seq",
                   {"p": prev, "h": digest, "seq": row["seq"]})
        prev = digest
    if db.dialect == "sqlite":
        db.execute(NO_UPDATE_SQLITE)
        # REPLACE deletes the old row without firing DELETE triggers; a BEFORE INSERT trigger sees it first
        db.execute("""CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
            WHEN NEW.seq IS NOT NULL AND EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only: a row cannot be replaced'); END""")
    else:
        db.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
        db.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
        db.execute("""CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
            FOR EACH STATEMENT EXECUTE FUNCTION golive_audit_append_only()""")
    # one successor per row: two writers racing for the tail cannot fork the chain
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS audit_chain ON audit (prev_hash)")
