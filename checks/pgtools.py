"""Shared PostgreSQL tooling for the Day 2 checks: password-less connection targets, scratch databases
that are always dropped, running the pg client tools, finding the backup a check works on.

Passwords never reach argv: the pg tools get a password-less conninfo plus PGPASSWORD, and every URL
shown is passed through `redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from checks.masking import mask, redact_url
from checks.process import ProcessResult, run_process
from checks.registry import CheckContext
from checks.result import Outcome

CUSTOM_MAGIC = b"PGDMP"
SCRATCH_PREFIX = "golive_scratch_"
# Cleanup tasks that outlived a cancelled check: kept referenced so they finish.
_CLEANUPS: set[asyncio.Task[Any]] = set()


# --------------------------------------------------------------------------- connection helpers


class BadDatabaseUrl(ValueError):
    """A database URL that cannot be parsed; the message never contains the URL itself."""


@dataclass(frozen=True)
class PgTarget:
    """One database as the pg tools and psycopg see it: a password-less conninfo plus the password.

    Keeping the password out of the conninfo means it can never show up in argv, `ps` or an error.
    """

    conninfo: str
    password: str | None
    url: str  # the original URL, password included: only ever put in an env var
    dbname: str

    @property
    def shown(self) -> str:
        return redact_url(self.url) if "://" in self.url else f"database {self.dbname}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for pg_dump/psql/pg_restore (PGPASSWORD, never argv)."""
        return {"PGPASSWORD": self.password} if self.password else {}

    def with_dbname(self, dbname: str) -> PgTarget:
        """The same server and credentials, another database."""
        params = conninfo_to_dict(self.conninfo)
        params["dbname"] = dbname
        return PgTarget(
            conninfo=make_conninfo("", **params),
            password=self.password,
            url=url_with_dbname(self.url, dbname),
            dbname=dbname,
        )

    def same_database(self, other: PgTarget) -> bool:
        a, b = conninfo_to_dict(self.conninfo), conninfo_to_dict(other.conninfo)
        keys = ("host", "hostaddr", "port", "dbname")
        return all((a.get(k) or "") == (b.get(k) or "") for k in keys)

    async def connect(self, timeout: float = 10.0) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.conninfo, password=self.password, autocommit=True, connect_timeout=max(2, int(timeout))
        )


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+psycopg://) as libpq ones."""
    scheme, sep, rest = url.partition("://")
    if sep and "+" in scheme:
        scheme = scheme.split("+", 1)[0]
    return f"{scheme}{sep}{rest}"


def url_with_dbname(url: str, dbname: str) -> str:
    """The URL (scheme, driver and password kept) pointing at another database of the same server."""
    if "://" not in url:
        params = conninfo_to_dict(url)
        params["dbname"] = dbname
        return make_conninfo("", **params)
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname), parts.query, parts.fragment))


def pg_target(url: str) -> PgTarget:
    """Split a postgres URL (or key=value conninfo) into a password-less conninfo and its password."""
    if not url or not url.strip():
        raise BadDatabaseUrl("the database URL is empty")
    try:
        params = conninfo_to_dict(libpq_url(url.strip()))
    except psycopg.ProgrammingError:
        raise BadDatabaseUrl("the database URL is not a valid postgresql:// URL or conninfo") from None
    password = params.pop("password", None)
    dbname = str(params.get("dbname") or params.get("user") or "")
    return PgTarget(
        conninfo=make_conninfo("", **params),
        password=str(password) if password else None,
        url=url.strip(),
        dbname=dbname,
    )


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return mask(lines[0] if lines else type(exc).__name__)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def missing_tool(name: str) -> str:
    return (
        f"{name} not found on PATH (install the PostgreSQL client tools matching the server's major version)"
    )


# --------------------------------------------------------------------------- scratch databases


@dataclass
class ScratchDatabase:
    """A throw-away database on the source's server, dropped whatever happens (timeouts included)."""

    server: PgTarget  # connection to the maintenance database
    target: PgTarget  # the scratch database itself
    created: bool = False
    dropped: bool = False
    drop_error: str | None = None
    _create_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def plan(cls, source: PgTarget, maintenance_db: str, prefix: str = SCRATCH_PREFIX) -> ScratchDatabase:
        name = f"{prefix}{secrets.token_hex(6)}"
        if len(name) > 63:
            raise ValueError("scratch_prefix is too long (database names have at most 63 characters)")
        scratch = cls(server=source.with_dbname(maintenance_db), target=source.with_dbname(name))
        if scratch.target.same_database(source):
            raise ValueError("the scratch database would be the source database; refusing")
        return scratch

    @property
    def name(self) -> str:
        return self.target.dbname

    @property
    def attempted(self) -> bool:
        """CREATE DATABASE was (or may have been) sent, so a drop is owed."""
        return self._create_task is not None

    async def create(self) -> None:
        """CREATE DATABASE from template0; shielded so a cancel cannot leave it half-known."""
        self._create_task = asyncio.ensure_future(self._create())
        await asyncio.shield(self._create_task)

    async def _create(self) -> None:
        conn = await self.server.connect()
        async with conn:
            await conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(self.name))
            )
        self.created = True

    async def drop(self) -> bool:
        """Drop the database; runs as its own task so a cancelled check still finishes the cleanup."""
        task = asyncio.ensure_future(self._drop())
        _CLEANUPS.add(task)
        task.add_done_callback(_CLEANUPS.discard)
        await asyncio.shield(task)
        return self.dropped

    async def _drop(self) -> None:
        if self._create_task is not None:
            with contextlib.suppress(BaseException):
                await self._create_task  # a create still in flight must land before we drop
        try:
            async with asyncio.timeout(60):
                conn = await self.server.connect()
                async with conn:
                    ident = sql.Identifier(self.name)
                    if conn.info.server_version >= 130000:
                        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
                    else:
                        await conn.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                            (self.name,),
                        )
                        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                    cur = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,))
                    self.dropped = await cur.fetchone() is None
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self.drop_error = first_line(exc)
            self.dropped = False


async def shielded(coro: Coroutine[Any, Any, Any]) -> None:
    """Run cleanup to completion even if the caller is cancelled again meanwhile."""
    task = asyncio.ensure_future(coro)
    _CLEANUPS.add(task)
    task.add_done_callback(_CLEANUPS.discard)
    with contextlib.suppress(BaseException):
        await asyncio.shield(task)


async def terminate_sessions(target: PgTarget, application_name: str, *, rounds: int = 10, quiet: int = 3,
                             pause: float = 0.2) -> None:
    """End the server sessions a killed client left behind (best effort, own sessions only). A client killed
    while connecting leaves a backend that names itself only once its start-up is done, so the sessions are
    looked for again (at most `rounds` times) until `quiet` looks in a row find none."""
    with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
        async with asyncio.timeout(15):
            conn = await target.connect()
            async with conn:
                none_found = 0
                for _ in range(rounds):
                    cursor = await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s AND pid <> pg_backend_pid()",
                        (application_name,),
                    )
                    none_found = 0 if await cursor.fetchall() else none_found + 1
                    if none_found >= quiet:
                        return
                    await asyncio.sleep(pause)


async def restore_dump(path: Path, fmt: str, target: PgTarget) -> ProcessResult:
    """Restore a plain dump with psql (stop on first error) or a custom dump with pg_restore.

    A plain dump is a psql script: a `\\connect` in it would leave the scratch database, a `\\!` would run
    a shell on this host. psql's restricted mode (`\\restrict`, psql 13.22/14.19/15.14/16.10/17.6+)
    refuses every meta-command; a dump from a recent pg_dump restricts itself, any other gets our key.
    """
    if fmt == "plain":
        head = await asyncio.to_thread(read_head, path)
        own = re.search(rb"^\\restrict \S+", head, re.MULTILINE)
        restrict = [] if own else ["-c", f"\\restrict golive{secrets.token_hex(16)}"]
        argv = [
            "psql",
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "--dbname",
            target.conninfo,
            *restrict,
            "-f",
            str(path),
        ]
    else:
        argv = [
            "pg_restore",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "-w",
            "--dbname",
            target.conninfo,
            str(path),
        ]
    return await run_process(argv, env=target.env)


def detect_format(head: bytes, path: Path) -> Literal["plain", "custom"]:
    if head.startswith(CUSTOM_MAGIC) or path.suffix.lower() in (".dump", ".backup", ".custom"):
        return "custom"
    return "plain"


def read_head(path: Path, size: int = 8192) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


def read_tail(path: Path, size: int = 8192) -> bytes:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        end = fh.tell()
        fh.seek(max(0, end - size))
        return fh.read()


def resolve_backup(ctx: CheckContext, path: str | None, from_check: str) -> tuple[Path, str | None]:
    """The backup file a check works on: an explicit path (a glob picks the newest) or an earlier output.

    Raises LookupError with a message a person can act on.
    """
    if path:
        resolved = ctx.path(path)
        if any(ch in path for ch in "*?["):
            matches = sorted((Path(m) for m in glob.glob(str(resolved))), key=lambda p: p.stat().st_mtime)
            if not matches:
                raise LookupError(f"no backup file matches {path}")
            resolved = matches[-1]
        return resolved, None
    output = ctx.output_of(from_check)
    if not output.get("path"):
        raise LookupError(f"check {from_check} did not report a backup path")
    return Path(output["path"]), output.get("format")


def split_table(name: str, schema: str) -> tuple[str, str]:
    if "." in name:
        left, right = name.split(".", 1)
        return left, right
    return schema, name


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- restoring into a scratch copy


@dataclass
class RestorePlan:
    """What a scratch-copy check works with: the source, the backup file and its format, the scratch db."""

    source: PgTarget
    path: Path
    fmt: Literal["plain", "custom"]
    scratch: ScratchDatabase


async def plan_restore(ctx: CheckContext, *, url: str, path: str | None, from_check: str, maintenance_db: str,
                       scratch_prefix: str, purpose: str) -> RestorePlan | Outcome:
    """Resolve the source and the backup and name a scratch database; a failed Outcome says what is wrong."""
    try:
        source = pg_target(url)
        backup, fmt = resolve_backup(ctx, path, from_check)
        scratch = ScratchDatabase.plan(source, maintenance_db, scratch_prefix)
    except (BadDatabaseUrl, LookupError, ValueError) as exc:
        return Outcome.failed(f"cannot run the {purpose}: {exc}")
    if not await asyncio.to_thread(backup.is_file):
        return Outcome.failed(f"backup file {backup} does not exist", path=str(backup))
    if fmt not in ("plain", "custom"):
        fmt = detect_format(await asyncio.to_thread(read_head, backup), backup)
    return RestorePlan(source=source, path=backup, fmt=fmt, scratch=scratch)  # type: ignore[arg-type]  # fmt is plain|custom here


async def run_on_scratch(scratch: ScratchDatabase, work: Callable[[], Awaitable[Outcome]],
                         evidence: dict[str, Any]) -> Outcome:
    """Run `work` against the scratch database and drop it whatever happens (a cancel included).

    A scratch database that could not be dropped turns any outcome into a failure that says so.
    """
    outcome: Outcome | None = None
    try:
        outcome = await work()
    finally:
        if scratch.attempted:
            await scratch.drop()
        else:
            scratch.dropped = True
    evidence["scratch_dropped"] = scratch.dropped
    if not scratch.dropped:
        return Outcome.failed(
            f"scratch database {scratch.name} could not be dropped ({scratch.drop_error}); drop it by hand",
            **evidence,
        )
    return outcome
