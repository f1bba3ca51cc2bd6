"""Day 2 backup checks: `backup.create` (pg_dump), `backup.integrity`, `backup.restore_dry_run`.

The runbook's manual steps (pg_dump to backups/, `head | grep "PostgreSQL database dump"`, restore into
a staging database and count rows) become checks. The PostgreSQL plumbing they share with
`migration.rollback` lives in `checks.pgtools`.

What each may touch:
- `backup.create`: reads the source database (pg_dump) and writes one file under `dir`.
- `backup.integrity`: reads the backup file.
- `backup.restore_dry_run`: creates a scratch database (`golive_scratch_<random>`) on the source's server,
  restores into it, reads row counts of both, and always drops it. A plain dump restores with psql in
  restricted mode, so a `\\connect` or `\\!` inside it cannot leave the scratch copy or run a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import Field

from checks.bounded import MIB
from checks.masking import mask
from checks.pgtools import (
    CUSTOM_MAGIC,
    SCRATCH_PREFIX,
    BadDatabaseUrl,
    PgTarget,
    ScratchDatabase,
    detect_format,
    first_line,
    human_size,
    missing_tool,
    pg_target,
    plan_restore,
    quote_ident,
    read_head,
    read_tail,
    resolve_backup,
    restore_dump,
    run_on_scratch,
    shielded,
    split_table,
    terminate_sessions,
)
from checks.process import check_ids, give_to_check, run_process
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status

PLAIN_MARKER = "PostgreSQL database dump"
PLAIN_TRAILER = "PostgreSQL database dump complete"



# --------------------------------------------------------------------------- backup.create


class BackupCreateParams(Params):
    url: str = Field(description="source database, usually ${DATABASE_URL}")
    format: Literal["plain", "custom"] = "custom"
    dir: str = Field("backups", description="relative to the checklist's folder")
    version: str = Field("v1.0", description="goes into backup_pre_<version>_<timestamp>")
    extra_args: list[str] = Field(default_factory=list, description="more pg_dump arguments")
    keep_newest: int | None = Field(3, ge=1, description=(
        "retention: after a successful backup keep only the newest N of golive's backups in `dir` "
        "(null: keep all)"))
    keep_days: float | None = Field(None, gt=0, description=(
        "retention instead by age: delete golive's backups in `dir` older than D days (the newest is always kept)"))


_SAFE_VERSION = re.compile(r"[^A-Za-z0-9._-]+")
# Only files golive itself names this way are ever deleted by the retention rule (see apply_retention).
OWN_BACKUP = re.compile(r"^backup_pre_(?P<version>[A-Za-z0-9._-]+?)_(?P<stamp>\d{8}_\d{6})(?:_(?P<n>\d+))?"
                        r"\.(?:sql|dump)$")
_PG_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


def apply_retention(directory: Path, *, keep_newest: int | None, keep_days: float | None,
                    now: datetime | None = None) -> dict[str, Any]:
    """Delete golive's own old backups in `directory`; returns the rule, what was kept and what was deleted.

    Only regular files (never symlinks, never directories) directly in `directory` whose name matches
    OWN_BACKUP are considered; every other file is left alone, whatever its name or age. Order is the
    timestamp golive wrote into the name.
    """
    if keep_newest is None and keep_days is None:
        return {"rule": "none (keep_newest and keep_days are null)", "kept": [], "deleted": []}
    own: list[tuple[str, int, Path]] = []
    for entry in directory.iterdir():
        m = OWN_BACKUP.match(entry.name)
        if not m:
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):  # a symlink or anything else: not golive's file to delete
            continue
        own.append((m["stamp"], int(m["n"] or 1), entry))
    own.sort(key=lambda t: (t[0], t[1]), reverse=True)  # newest first
    now = now or datetime.now()
    if keep_days is not None:
        rule = f"keep backups younger than {keep_days:g} days (the newest always)"
        cutoff = now - timedelta(days=keep_days)
        doomed = [path for i, (stamp, _, path) in enumerate(own)
                  if i > 0 and datetime.strptime(stamp, "%Y%m%d_%H%M%S") < cutoff]
    else:
        assert keep_newest is not None
        rule = f"keep the newest {keep_newest}"
        doomed = [path for _, _, path in own[keep_newest:]]
    deleted: list[str] = []
    problems: list[str] = []
    for path in doomed:
        try:
            path.unlink()
            deleted.append(path.name)
        except OSError as exc:
            problems.append(f"{path.name}: {exc.strerror}")
    kept = [path.name for _, _, path in own if path.name not in deleted]
    result: dict[str, Any] = {"rule": rule, "kept": kept, "deleted": deleted}
    if problems:
        result["problems"] = problems
    return result


def _major(text: str) -> tuple[int, int] | None:
    """(major, minor) from `pg_dump --version`: the number after "(PostgreSQL)", as in
    "pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)" (Debian's and PGDG's builds add the package)."""
    tail = text.split("(PostgreSQL)", 1)[1] if "(PostgreSQL)" in text else text
    m = _PG_VERSION.search(tail)
    return (int(m[1]), int(m[2] or 0)) if m else None


async def client_older_than_server(source: PgTarget) -> str:
    """One line when the pg_dump on PATH is older than the source's server (pg_dump refuses a newer server's
    major version), with the fix; "" when it is not, or when either version cannot be read."""
    try:
        done = await run_process(["pg_dump", "--version"])
    except OSError:
        return ""
    client = _major(done.stdout.strip())
    try:
        conn = await source.connect(timeout=5)
        async with conn:
            server_num = conn.info.server_version
    except (psycopg.Error, OSError):
        return ""
    server = (server_num // 10000, server_num % 10000) if server_num >= 100000 else \
        (server_num // 10000, (server_num // 100) % 100)
    if client is None or client[0] >= server[0]:
        return ""
    return (f"pg_dump {client[0]}.{client[1]} is older than the server ({server[0]}.{server[1]}) and refuses to dump "
            f"it: install postgresql-client-{server[0]} or newer (PGDG apt repository) and put its pg_dump first on "
            f"PATH")


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
    too_old = await client_older_than_server(source)
    if too_old:
        return Outcome.failed(too_old, source=source.shown)
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
        if check_ids() is not None:  # pg_dump runs as another user (README): it must be able to write the file
            await asyncio.to_thread(partial.touch, 0o600)
            await asyncio.to_thread(give_to_check, partial)
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
        if "version mismatch" in result.stderr:
            too_old = await client_older_than_server(source)
            if too_old:
                return Outcome.failed(too_old, **evidence, output_tail=mask(result.tail(12)))
        return Outcome.failed(
            f"pg_dump of {source.shown} failed (exit {result.returncode}): {mask(result.cause())}",
            **evidence,
            output_tail=mask(result.tail(12)),
        )
    size = (await asyncio.to_thread(final.stat)).st_size
    evidence.update(path=str(final), size=size, size_human=human_size(size))
    retention = await asyncio.to_thread(apply_retention, directory, keep_newest=p.keep_newest, keep_days=p.keep_days)
    evidence["retention"] = retention
    pruned = f"; retention ({retention['rule']}): {len(retention['deleted'])} old backup(s) deleted" \
        if p.keep_newest is not None or p.keep_days is not None else ""
    outcome = Outcome.passed(
        f"{p.format} backup {final.name} ({human_size(size)}) in {result.duration_s:.1f}s{pruned}", **evidence
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
    tail = (await asyncio.to_thread(read_tail, path)).decode("utf-8", errors="replace")
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
        # A table of contents is ~100 bytes an entry: 64 MiB holds any real schema, and still bounds a bad file.
        listing = await run_process(["pg_restore", "--list", str(path)], max_output_bytes=64 * MIB)
    except FileNotFoundError:
        return Outcome.failed(missing_tool("pg_restore"), **evidence)
    if listing.returncode != 0:
        return Outcome.failed(
            f"{path.name} is truncated or damaged: pg_restore --list failed: {mask(listing.cause())}",
            **evidence,
        )
    entries = sum(1 for line in listing.stdout.splitlines() if line.strip() and not line.startswith(";"))
    evidence["toc_entries"] = entries
    if full_read:
        # --list reads only the table of contents; a dump cut short in its data still lists fine.
        read = await run_process(["pg_restore", "--file", "/dev/null", str(path)])
        if read.returncode != 0:
            return Outcome.failed(
                f"{path.name} is truncated or damaged: reading it failed: {mask(read.cause())}", **evidence
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


def _label(schema: str, table: str, default_schema: str) -> str:
    return table if schema == default_schema else f"{schema}.{table}"


@check_kind("backup.restore_dry_run", RestoreDryRunParams,
            writes=lambda params: "a scratch database golive_scratch_<random> on the source's server "
                                  "(created, always dropped)")
async def check_restore_dry_run(ctx: CheckContext, p: RestoreDryRunParams) -> Outcome:
    """Restore the backup into a scratch database, compare row counts with the source, always drop it."""
    plan = await plan_restore(ctx, url=p.url, path=p.path, from_check=p.from_check,
                              maintenance_db=p.maintenance_db, scratch_prefix=p.scratch_prefix,
                              purpose="restore test")
    if isinstance(plan, Outcome):
        return plan
    source, scratch, path, fmt = plan.source, plan.scratch, plan.path, plan.fmt
    evidence: dict[str, Any] = {
        "source": source.shown,
        "backup": str(path),
        "format": fmt,
        "scratch_database": scratch.name,
        "target_minutes": p.target_minutes,
    }
    outcome = await run_on_scratch(
        scratch, lambda: _restore_and_compare(source, scratch, path, fmt, p, evidence), evidence)
    if outcome.status is Status.FAIL and not scratch.dropped:
        return outcome
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
            f"{mask(result.cause())}"
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
