"""Versioned migrations of the bot's own store: a numbered migration table, applied under a lock.

Why not Alembic + SQLAlchemy: the store is raw SQL with `:name` placeholders over two drivers
(sqlite3 and psycopg), so SQLAlchemy would be a second database layer used only at start-up; every
`golive` command opens the store, and importing SQLAlchemy + Alembic alone costs ~0.3 s of a 0.6 s
CLI start-up budget. What Alembic would give us here, a version table and ordered upgrade steps, is
the forty lines below. (Alembic remains the right tool for the *target's* migrations, which the
`migration.rollback` check rehearses.)

How it works:
- `bot/store/migrations/NNNN_name.py` files are the steps, applied in number order; each defines
  `upgrade(db)` and runs inside one transaction with the others still pending.
- `schema_migrations(version, name, applied_at)` records what ran. A database stamped with a version
  this code does not know is refused (an older golive must not write to a newer schema).
- The whole check-and-apply runs under a lock: a PostgreSQL transaction-scoped advisory lock keyed by
  the schema, or SQLite's exclusive transaction. Six replicas starting at once take turns; the first
  applies, the others see the version table filled and do nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.store.db import Database, StoreUnavailable

PACKAGE = "bot.store.migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)$")
_COLUMN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+(.+?),?\s*$")


class SchemaError(StoreUnavailable):
    """The store's schema cannot be brought to this version of golive; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Database], None]


def discover(package: str = PACKAGE) -> list[Migration]:
    """Every `NNNN_name` module of the package, in order. Two modules with one number are refused, so a
    merge of two branches that each added `0005_...` fails loudly instead of skipping one."""
    pkg = importlib.import_module(package)
    found: dict[int, Migration] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        match = _FILE.match(info.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise SchemaError(f"two store migrations are numbered {version:04d} ({found[version].name} and "
                              f"{match.group(2)}); renumber the newer one")
        module = importlib.import_module(f"{package}.{info.name}")
        found[version] = Migration(version, match.group(2), module.upgrade)
    return [found[v] for v in sorted(found)]


VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Bring the store to the newest version; returns the versions applied now (empty when current)."""
    steps = list(discover() if migrations is None else migrations)
    newest = steps[-1].version if steps else 0
    with db.migration_lock() as tx:
        if not table_exists(tx, "schema_migrations"):  # a bot role without CREATE rights skips the DDL
            tx.execute(VERSION_TABLE)
        applied = {int(r["version"]) for r in tx.fetchall("SELECT version FROM schema_migrations")}
        if applied and max(applied) > newest:
            raise SchemaError(f"the store's schema is version {max(applied)}, newer than this golive knows "
                              f"({newest}); upgrade golive, or point it at another database")
        done: list[int] = []
        for step in steps:
            if step.version in applied:
                continue
            try:
                step.upgrade(tx)
            except Exception as exc:
                if type(exc).__name__ != "InsufficientPrivilege":
                    raise
                raise SchemaError(f"the store needs upgrading to version {newest} ({step.version:04d}_{step.name}) "
                                  "and this database role may not change the schema: start golive once with "
                                  "the owner role's GOLIVE_DATABASE_URL, then again as the bot") from None
            tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :at)",
                       {"v": step.version, "n": step.name, "at": datetime.now(UTC).isoformat()})
            done.append(step.version)
        return done


def current_version(db: Database) -> int:
    row = db.fetchone("SELECT max(version) AS v FROM schema_migrations")
    return int(row["v"]) if row and row["v"] is not None else 0


# -- helpers for migration modules -----------------------------------------------------------------
def table_exists(db: Database, table: str) -> bool:
    if db.dialect == "sqlite":
        return db.fetchone("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = :t", {"t": table}) \
            is not None
    row = db.fetchone("SELECT to_regclass(:t) IS NOT NULL AS present", {"t": table})
    return bool(row and row["present"])


def columns(db: Database, table: str) -> list[str]:
    """The table's columns in this database (empty when the table does not exist)."""
    if db.dialect == "sqlite":
        return [r["name"] for r in db.fetchall(f"PRAGMA table_info({table})")]
    rows = db.fetchall("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name = :t ORDER BY ordinal_position", {"t": table})
    return [r["column_name"] for r in rows]


def create_tables(db: Database, statements: Sequence[str]) -> None:
    """Run CREATE TABLE / INDEX statements; a table that already exists but lacks some of the declared
    columns (a store from before versioning) gets them added, so the first insert cannot fail on it."""
    for stmt in statements:
        db.execute(db.render_ddl(stmt))
        table = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+)", stmt)
        if table:
            add_missing_columns(db, table.group(1), stmt)


def add_missing_columns(db: Database, table: str, create_stmt: str) -> list[str]:
    have = set(columns(db, table))
    added = []
    body = create_stmt[create_stmt.index("(") + 1: create_stmt.rindex(")")]
    for line in body.splitlines():
        match = _COLUMN.match(line)
        if not match or match.group(1) in ("primary", "unique", "foreign", "check") or match.group(1) in have:
            continue
        name, definition = match.group(1), match.group(2)
        upper = definition.upper()
        if "{AUTOID}" in upper or "PRIMARY KEY" in upper or ("NOT NULL" in upper and "DEFAULT" not in upper):
            raise SchemaError(f"the store's table {table} lacks the required column {name} and it cannot be added "
                              "in place; restore a backup made by golive, or start from an empty store")
        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
        added.append(name)
    return added
