"""A thin SQL layer over sqlite3 and psycopg so one set of queries serves both.

Queries use `:name` placeholders; DDL may use {autoid} and {now} which each dialect fills in.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from checks.masking import mask

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or written; the message is safe to show (no DSN)."""


class StoreMisconfigured(StoreUnavailable):
    """The store's address itself is wrong (a configuration error, not an outage)."""


# sqlite3 errors that mean "the store cannot take writes right now", not "this query is wrong"
_SQLITE_UNAVAILABLE = ("readonly", "read-only", "disk is full", "disk i/o error", "unable to open",
                       "database is locked", "no such file", "permission denied", "out of memory")


def _sqlite_unavailable(path: str, exc: BaseException) -> StoreUnavailable | None:
    text = str(exc)
    if isinstance(exc, OSError) or any(marker in text.lower() for marker in _SQLITE_UNAVAILABLE):
        return StoreUnavailable(f"the SQLite store at {path} cannot be written ({mask(text)}): make its directory "
                                "writable (GOLIVE_STATE_DIR) and free some disk space, or set GOLIVE_DATABASE_URL")
    return None


class Cursorish(Protocol):
    def fetchall(self) -> list[Any]: ...


class Database:
    dialect: str = ""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fetchone(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        raise NotImplementedError
        yield self

    @contextmanager
    def migration_lock(self) -> Iterator[Database]:
        """A transaction that no other process can run at the same time (see bot.store.migrate)."""
        raise NotImplementedError
        yield self

    def apply_schema(self, statements: Sequence[str]) -> None:
        with self.transaction() as tx:
            for stmt in statements:
                tx.execute(self.render_ddl(stmt))

    def render_ddl(self, stmt: str) -> str:
        raise NotImplementedError

    def ping(self) -> None:
        self.fetchone("SELECT 1 AS one")

    def close(self) -> None:
        pass


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise (_sqlite_unavailable(self.path, exc) or exc) from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A read-only directory or a full disk becomes StoreUnavailable: callers tell the person, not crash."""
        try:
            yield
        except (OSError, sqlite3.OperationalError) as exc:
            raise (_sqlite_unavailable(self.path, exc) or exc) from None

    def render_ddl(self, stmt: str) -> str:
        return stmt.replace("{autoid}", "INTEGER PRIMARY KEY AUTOINCREMENT")

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        with self._lock, self._errors():
            return self._conn.execute(sql, dict(params or {})).rowcount

    def fetchall(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock, self._errors():
            return [dict(r) for r in self._conn.execute(sql, dict(params or {})).fetchall()]

    @contextmanager
    def transaction(self, mode: str = "IMMEDIATE") -> Iterator[Database]:
        with self._lock:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                with self._errors():
                    self._conn.execute(f"BEGIN {mode}")
            self._local.depth = depth + 1
            try:
                yield self
            except BaseException:
                self._local.depth = depth
                if depth == 0 and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._local.depth = depth
            if depth == 0:
                try:
                    with self._errors():
                        self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def migration_lock(self) -> Iterator[Database]:
        # EXCLUSIVE: no other connection reads or writes until the schema is settled
        with self.transaction("EXCLUSIVE") as tx:
            yield tx

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 8,
                 timeout: float | None = None) -> None:
        """`timeout`: how long one operation waits for a connection (GOLIVE_STORE_TIMEOUT, default 5 s);
        with the store down, each write attempt costs this much before its retry."""
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        if timeout is None:
            try:
                timeout = float(os.environ.get("GOLIVE_STORE_TIMEOUT", "") or 5.0)
            except ValueError:
                timeout = 5.0
        timeout = max(1.0, timeout)
        self._psycopg = psycopg
        self.schema = schema
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "connect_timeout": int(timeout)}
        if schema:
            kwargs["options"] = f"-c search_path={schema}"
        self._local = threading.local()
        self.timeout = timeout
        try:
            if schema:
                # under a lock: concurrent CREATE SCHEMA IF NOT EXISTS collide on pg_namespace
                with psycopg.connect(url, autocommit=True, connect_timeout=int(timeout)) as conn, \
                        conn.transaction():
                    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
                    if not exists:  # a bot role without CREATE on the database can use an existing schema
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"golive-schema:{schema}",))
                        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            # check: a connection PostgreSQL dropped (restart, failover) is replaced on checkout, so
            # the first commands after the store returns do not fail on stale pooled connections
            self._pool = ConnectionPool(url, min_size=min_size, max_size=max_size, kwargs=kwargs, open=True,
                                        timeout=timeout, reconnect_timeout=timeout,
                                        check=ConnectionPool.check_connection)
            self._pool.wait(timeout=timeout)
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach the PostgreSQL store: {mask(str(exc).splitlines()[0])}") from None

    def render_ddl(self, stmt: str) -> str:
        return stmt.replace("{autoid}", "BIGSERIAL PRIMARY KEY")

    @staticmethod
    def _sql(sql: str) -> str:
        return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        try:
            with self._pool.connection(timeout=self.timeout) as conn:
                yield conn
        except (self._psycopg.OperationalError, self._psycopg.errors.ReadOnlySqlTransaction) as exc:
            raise StoreUnavailable(f"the PostgreSQL store is unreachable: {mask(str(exc).splitlines()[0])}") from None
        except Exception as exc:
            if type(exc).__name__ == "PoolTimeout":
                raise StoreUnavailable("the PostgreSQL store is unreachable (no connection within "
                                       f"{self.timeout:g}s)") from None
            raise

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        with self._conn() as conn:
            return int(conn.execute(self._sql(sql), dict(params or {})).rowcount)

    def fetchall(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cur = conn.execute(self._sql(sql), dict(params or {}))
            return list(cur.fetchall()) if cur.description else []

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        if getattr(self._local, "tx", None) is not None:
            yield self
            return
        with self._conn() as conn, conn.transaction():
            self._local.tx = conn
            try:
                yield self
            finally:
                self._local.tx = None

    @contextmanager
    def migration_lock(self) -> Iterator[Database]:
        # a transaction-scoped advisory lock, one per schema: released by COMMIT/ROLLBACK, even when
        # the process dies mid-migration (the server ends its session)
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('golive-migrate:' || coalesce(current_schema(), '')))")
            yield tx

    def close(self) -> None:
        self._pool.close()


def open_database(url: str | None, *, sqlite_path: str | Path = "golive-state/golive.db",
                  schema: str | None = None, timeout: float | None = None) -> Database:
    """PostgreSQL when a postgres URL is given, otherwise the embedded SQLite file."""
    if url and url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        if url.startswith("postgresql+psycopg://"):
            url = "postgresql://" + url.split("://", 1)[1]
        return PostgresDatabase(url, schema=schema, timeout=timeout)
    if url and url.startswith("sqlite:///"):
        return SQLiteDatabase(url[len("sqlite:///"):])
    if url:
        raise StoreMisconfigured("GOLIVE_DATABASE_URL must start with postgresql:// or sqlite:///")
    return SQLiteDatabase(sqlite_path)
