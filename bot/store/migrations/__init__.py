"""The store's schema, one numbered step per file; applied in order by `bot.store.migrate.migrate`.

Adding a step (a new table, column or index):
1. Create `bot/store/migrations/NNNN_what_it_does.py` with the next free number (4 digits). Two
   files with one number are refused at start-up, so a merge collision shows at once: renumber yours.
2. Define `upgrade(db: Database) -> None`. It runs in one transaction under the migration lock; use
   `db.execute(db.render_ddl(sql))` (`{autoid}` becomes the dialect's auto-increment key) and branch on
   `db.dialect` ("sqlite" / "postgres") where the SQL differs. Portable types: TEXT, INTEGER, REAL;
   times as ISO-8601 UTC text. Prefer `ALTER TABLE ... ADD COLUMN x ... DEFAULT ...` for new columns.
3. Never edit a step that was released: databases already stamped with it will not run it again.
4. Test it: tests/store/test_migrations.py upgrades the committed v0.1.0 fixtures through every step.

There are no downgrades: restore a backup to go back.
"""
