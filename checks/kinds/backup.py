"""Day 2 backup checks: `backup.create` (pg_dump), `backup.integrity`, `backup.restore_dry_run`.

The runbook's manual steps (pg_dump to backups/, `head | grep "PostgreSQL database dump"`, restore into
a staging database and count rows) become checks. Passwords never reach argv: the pg tools get a
password-less conninfo plus PGPASSWORD, and every URL shown is passed through `redact_url`.
The helpers for scratch databases are shared with `migration.rollback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import re
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field

from checks.masking import mask, redact_url
from checks.process import ProcessResult, run_process
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status

PLAIN_MARKER = "PostgreSQL database dump"
PLAIN_TRAILER = "PostgreSQL database dump complete"
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
            conninfo=make_conninfo(**params),
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
        return make_conninfo(**params)
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
        conninfo=make_conninfo(**params),
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


async def terminate_sessions(target: PgTarget, application_name: str) -> None:
    """End the server sessions a killed client left behind (best effort, own sessions only)."""
    with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
        async with asyncio.timeout(15):
            conn = await target.connect()
            async with conn:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (application_name,),
                )


async def restore_dump(path: Path, fmt: str, target: PgTarget) -> ProcessResult:
    """Restore a plain dump with psql (stop on first error) or a custom dump with pg_restore."""
    if fmt == "plain":
        argv = [
            "psql",
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "--dbname",
            target.conninfo,
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


def _read_tail(path: Path, size: int = 8192) -> bytes:
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


# --------------------------------------------------------------------------- backup.create


class BackupCreateParams(Params):
    url: str = Field(description="source database, usually ${DATABASE_URL}")
    format: Literal["plain", "custom"] = "custom"
    dir: str = Field("backups", description="relative to the checklist's folder")
    version: str = Field("v1.0", description="goes into backup_pre_<version>_<timestamp>")
    extra_args: list[str] = Field(default_factory=list, description="more pg_dump arguments")


_SAFE_VERSION = re.compile(r"[^A-Za-z0-9._-]+")


@check_kind("backup.create", BackupCreateParams)
async def check_backup_create(ctx: CheckContext, p: BackupCreateParams) -> Outcome:
    """Take a pg_dump (--no-owner --no-acl) before the migration, into backups/backup_pre_<version>_<ts>."""
    try:
        source = pg_target(p.url)
    except BadDatabaseUrl as exc:
        return Outcome.failed(str(exc))
    directory = ctx.path(p.dir)
    try:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    except OSError as exc:
        return Outcome.failed(f"cannot create backup directory {directory}: {exc.strerror}")
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    version = _SAFE_VERSION.sub("_", p.version).strip("_") or "unversioned"
    suffix = ".sql" if p.format == "plain" else ".dump"
    final = directory / f"backup_pre_{version}_{stamp}{suffix}"
    n = 2
    while final.exists():
        final = directory / f"backup_pre_{version}_{stamp}_{n}{suffix}"
        n += 1
    partial = final.with_name(final.name + ".partial")  # the final name only ever holds a complete dump
    app_name = f"golive_backup_{secrets.token_hex(4)}"
    argv = [
        "pg_dump",
        "--no-owner",
        "--no-acl",
        "-w",
        "--format",
        "p" if p.format == "plain" else "c",
        "--file",
        str(partial),
        *p.extra_args,
        "--dbname",
        make_conninfo(source.conninfo, application_name=app_name),
    ]
    completed = False
    try:
        result = await run_process(argv, env=source.env)
        if result.returncode == 0:
            await asyncio.to_thread(partial.replace, final)
            completed = True
    except asyncio.CancelledError:
        # Killing pg_dump does not end its server session while that waits on a lock; end it too.
        await shielded(terminate_sessions(source, app_name))
        raise
    except FileNotFoundError:
        return Outcome.failed(missing_tool("pg_dump"))
    finally:
        if not completed:
            with contextlib.suppress(OSError):
                partial.unlink()
    evidence: dict[str, Any] = {
        "source": source.shown,
        "format": p.format,
        "duration_s": round(result.duration_s, 2),
    }
    if not completed:
        return Outcome.failed(
            f"pg_dump of {source.shown} failed (exit {result.returncode}): {mask(result.tail(1))}",
            **evidence,
            output_tail=mask(result.tail(12)),
        )
    size = (await asyncio.to_thread(final.stat)).st_size
    evidence.update(path=str(final), size=size, size_human=human_size(size))
    outcome = Outcome.passed(
        f"{p.format} backup {final.name} ({human_size(size)}) in {result.duration_s:.1f}s", **evidence
    )
    outcome.outputs = {"path": str(final), "format": p.format, "size": size}
    return outcome


# --------------------------------------------------------------------------- backup.integrity


class BackupIntegrityParams(Params):
    from_check: str = Field("backup.create", description="check whose output names the backup file")
    path: str | None = Field(None, description="explicit file instead (a glob picks the newest match)")
    full_read: bool = Field(
        True, description="custom dumps: read every byte with pg_restore (catches truncation)"
    )


@check_kind("backup.integrity", BackupIntegrityParams)
async def check_backup_integrity(ctx: CheckContext, p: BackupIntegrityParams) -> Outcome:
    """The backup exists, is not empty and is a complete pg_dump archive (plain or custom)."""
    try:
        path, expected = resolve_backup(ctx, p.path, p.from_check)
    except LookupError as exc:
        return Outcome.failed(f"no backup to verify: {exc}")
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except FileNotFoundError:
        return Outcome.failed(f"backup file {path} does not exist", path=str(path))
    except OSError as exc:
        return Outcome.failed(f"cannot read backup file {path}: {exc.strerror}", path=str(path))
    evidence: dict[str, Any] = {"path": str(path), "size": size, "size_human": human_size(size)}
    if size == 0:
        return Outcome.failed(f"backup file {path.name} is empty (0 bytes)", **evidence)
    head = await asyncio.to_thread(read_head, path)
    fmt = expected or detect_format(head, path)
    evidence["format"] = fmt
    if fmt == "custom":
        return await _verify_custom(path, head, p.full_read, evidence)
    return await _verify_plain(path, head, evidence)


async def _verify_plain(path: Path, head: bytes, evidence: dict[str, Any]) -> Outcome:
    if head.startswith(CUSTOM_MAGIC):
        return Outcome.failed(
            f"{path.name} is a custom-format dump, but a plain SQL dump was expected", **evidence
        )
    first_lines = head.decode("utf-8", errors="replace").splitlines()[:20]
    if not any(PLAIN_MARKER in line for line in first_lines):
        return Outcome.failed(
            f'{path.name} is not a plain pg_dump: "{PLAIN_MARKER}" is not in its first 20 lines', **evidence
        )
    tail = (await asyncio.to_thread(_read_tail, path)).decode("utf-8", errors="replace")
    if PLAIN_TRAILER not in tail:
        return Outcome.failed(
            f'{path.name} is truncated: the "{PLAIN_TRAILER}" trailer is missing', **evidence
        )
    return Outcome.passed(f"plain SQL dump {path.name} ({evidence['size_human']}) is complete", **evidence)


async def _verify_custom(path: Path, head: bytes, full_read: bool, evidence: dict[str, Any]) -> Outcome:
    if not head.startswith(CUSTOM_MAGIC):
        return Outcome.failed(
            f"{path.name} is not a custom-format dump: it does not start with PGDMP", **evidence
        )
    try:
        listing = await run_process(["pg_restore", "--list", str(path)])
    except FileNotFoundError:
        return Outcome.failed(missing_tool("pg_restore"), **evidence)
    if listing.returncode != 0:
        return Outcome.failed(
            f"{path.name} is truncated or damaged: pg_restore --list failed: {mask(listing.tail(1))}",
            **evidence,
        )
    entries = sum(1 for line in listing.stdout.splitlines() if line.strip() and not line.startswith(";"))
    evidence["toc_entries"] = entries
    if full_read:
        # --list reads only the table of contents; a dump cut short in its data still lists fine.
        read = await run_process(["pg_restore", "--file", "/dev/null", str(path)])
        if read.returncode != 0:
            return Outcome.failed(
                f"{path.name} is truncated or damaged: reading it failed: {mask(read.tail(1))}", **evidence
            )
    return Outcome.passed(
        f"custom dump {path.name} ({evidence['size_human']}, {entries} TOC entries) is readable", **evidence
    )


# --------------------------------------------------------------------------- backup.restore_dry_run


class RestoreDryRunParams(Params):
    url: str = Field(description="source database the backup was taken from, usually ${DATABASE_URL}")
    from_check: str = "backup.create"
    path: str | None = Field(None, description="explicit backup file instead of from_check's output")
    maintenance_db: str = Field("postgres", description="database to connect to for CREATE/DROP DATABASE")
    tables: list[str] = Field(
        default_factory=list, description="tables to compare; default every source table"
    )
    schema_: str = Field("public", alias="schema", description="schema of unqualified table names")
    target_minutes: float = Field(15.0, gt=0, description="the restore-time objective")
    scratch_prefix: str = Field(SCRATCH_PREFIX, pattern=r"^[a-z_][a-z0-9_]*$")


def split_table(name: str, schema: str) -> tuple[str, str]:
    if "." in name:
        left, right = name.split(".", 1)
        return left, right
    return schema, name


async def list_tables(conn: psycopg.AsyncConnection[Any], schema: str) -> list[str]:
    cur = await conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        (schema,),
    )
    return [row[0] for row in await cur.fetchall()]


async def count_rows(
    conn: psycopg.AsyncConnection[Any], tables: list[tuple[str, str]]
) -> dict[str, int | None]:
    """Exact row counts; None for a table that does not exist."""
    counts: dict[str, int | None] = {}
    for schema, table in tables:
        label = f"{schema}.{table}"
        cur = await conn.execute("SELECT to_regclass(%s)", (f"{quote_ident(schema)}.{quote_ident(table)}",))
        row = await cur.fetchone()
        if row is None or row[0] is None:
            counts[label] = None
            continue
        cur = await conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        )
        found = await cur.fetchone()
        counts[label] = int(found[0]) if found else 0
    return counts


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _label(schema: str, table: str, default_schema: str) -> str:
    return table if schema == default_schema else f"{schema}.{table}"


@check_kind("backup.restore_dry_run", RestoreDryRunParams)
async def check_restore_dry_run(ctx: CheckContext, p: RestoreDryRunParams) -> Outcome:
    """Restore the backup into a scratch database, compare row counts with the source, always drop it."""
    try:
        source = pg_target(p.url)
        path, fmt = resolve_backup(ctx, p.path, p.from_check)
        scratch = ScratchDatabase.plan(source, p.maintenance_db, p.scratch_prefix)
    except (BadDatabaseUrl, LookupError, ValueError) as exc:
        return Outcome.failed(f"cannot run the restore test: {exc}")
    if not await asyncio.to_thread(path.is_file):
        return Outcome.failed(f"backup file {path} does not exist", path=str(path))
    if fmt is None:
        fmt = detect_format(await asyncio.to_thread(read_head, path), path)
    evidence: dict[str, Any] = {
        "source": source.shown,
        "backup": str(path),
        "format": fmt,
        "scratch_database": scratch.name,
        "target_minutes": p.target_minutes,
    }
    outcome: Outcome | None = None
    try:
        outcome = await _restore_and_compare(source, scratch, path, fmt, p, evidence)
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
    outcome.evidence = evidence
    outcome.outputs = {
        "scratch_dropped": True,
        "scratch_database": scratch.name,
        "restore_s": evidence.get("restore_s"),
        "tables": evidence.get("tables", {}),
    }
    return outcome


async def _restore_and_compare(
    source: PgTarget,
    scratch: ScratchDatabase,
    path: Path,
    fmt: str,
    p: RestoreDryRunParams,
    evidence: dict[str, Any],
) -> Outcome:
    try:
        await scratch.create()
    except psycopg.Error as exc:
        return Outcome.failed(
            f"cannot create scratch database {scratch.name}: {first_line(exc)} (the user needs CREATEDB)"
        )
    try:
        result = await restore_dump(path, fmt, scratch.target)
    except FileNotFoundError:
        return Outcome.failed(missing_tool("psql" if fmt == "plain" else "pg_restore"))
    restore_s = round(result.duration_s, 2)
    evidence["restore_s"] = restore_s
    if result.returncode != 0:
        evidence["output_tail"] = mask(result.tail(12))
        return Outcome.failed(
            f"restore of {path.name} failed after {restore_s:g}s (exit {result.returncode}): "
            f"{mask(result.tail(1))}"
        )
    try:
        if p.tables:
            wanted = [split_table(t, p.schema_) for t in p.tables]
        else:
            src_conn = await source.connect()
            async with src_conn:
                wanted = [(p.schema_, t) for t in await list_tables(src_conn, p.schema_)]
        scratch_conn = await scratch.target.connect()
        async with scratch_conn:
            restored = await count_rows(scratch_conn, wanted)
        src_conn = await source.connect()
        async with src_conn:
            original = await count_rows(src_conn, wanted)
    except psycopg.Error as exc:
        return Outcome.failed(f"cannot compare row counts: {first_line(exc)}")
    tables = {
        _label(s, t, p.schema_): {"source": original[f"{s}.{t}"], "restored": restored[f"{s}.{t}"]}
        for s, t in wanted
    }
    evidence["tables"] = tables
    minutes = restore_s / 60
    timing = f"restored in {restore_s:g}s ({minutes:.1f} of {p.target_minutes:g} min target)"
    not_in_source = [name for name, c in tables.items() if c["source"] is None]
    missing = [name for name, c in tables.items() if c["restored"] is None and c["source"] is not None]
    differ = [
        f"{name} {c['restored']} vs {c['source']}"
        for name, c in tables.items()
        if c["restored"] is not None and c["source"] is not None and c["restored"] != c["source"]
    ]
    problems = []
    if missing:
        problems.append(f"tables missing after restore: {', '.join(missing)}")
    if not_in_source:
        problems.append(f"configured tables not in the source: {', '.join(not_in_source)}")
    if differ:
        problems.append(
            f"row counts differ (restored vs source; the source may have changed since the dump): "
            f"{'; '.join(differ)}"
        )
    if problems:
        return Outcome.failed(f"{'; '.join(problems)} — {timing}")
    if not tables:
        return Outcome.warned(f"{timing}, but the source has no tables in schema {p.schema_} to compare")
    rows = sum(c["source"] or 0 for c in tables.values())
    summary = f"{timing}; {len(tables)} tables, {rows} rows match the source; scratch database dropped"
    if minutes > p.target_minutes:
        return Outcome(status=Status.WARN, summary=f"over the restore target: {summary}")
    return Outcome.passed(summary)
