"""Day 2 migration checks: `migration.current`, `migration.dry_run`, `schema.columns`, `migration.rollback`.

Alembic runs as a program (`alembic`, or `docker compose exec -T api alembic`), so the checks work for any
service that migrates with Alembic. The rollback test only ever touches a scratch copy restored from the
backup; before it downgrades anything it proves that alembic really talks to that copy.

What each may touch (they all run the target's own alembic env.py):
- `migration.current`: reads the target database (`alembic current`, `heads`, `history`); writes nothing.
- `migration.dry_run`: nothing. Offline mode (`--sql`) needs no database, so every connection setting it
  gets is pointed at an unroutable `.invalid` host: an env.py that ignores offline mode fails instead of
  migrating production. (Not covered: a URL written into alembic.ini, and the container's own
  settings when alembic runs through `docker compose exec`.)
- `schema.columns`: reads pg_catalog of the target database.
- `migration.rollback`: writes only to a scratch database it creates (and always drops) on the source's
  server; it refuses to downgrade unless alembic is proven to talk to that copy, and checks afterwards
  that the source revision did not change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from pydantic import Field

from checks.masking import mask
from checks.pgtools import (
    SCRATCH_PREFIX,
    BadDatabaseUrl,
    PgTarget,
    ScratchDatabase,
    first_line,
    pg_target,
    plan_restore,
    quote_ident,
    restore_dump,
    run_on_scratch,
    split_table,
)
from checks.process import ProcessResult, run_process, to_argv
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.sandbox import sanitize_connections

# `f6e5d4c3b2a1 (head)`, `abc (head) (mergepoint)`, `abc (effective head)`
_CURRENT_LINE = re.compile(r"^(?P<rev>[0-9A-Za-z_]+)(?P<flags>(?:\s+\([a-z ]+\))*)\s*$")
# `a1 -> f6 (head), message`, `<base> -> a1, message`, `a, b -> c (mergepoint), message`
_HISTORY_LINE = re.compile(
    r"^(?P<down>.+?) -> (?P<rev>[0-9A-Za-z_]+)(?P<flags>(?:\s+\([a-z ]+\))*),?\s*(?P<msg>.*)$"
)
_NOT_INSTALLED = re.compile(
    r"No module named '?alembic|alembic: (command )?not found|executable file not found"
    r"|command not found",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- running alembic


class AlembicParams(Params):
    command: str | list[str] = Field("alembic", description='e.g. "docker compose exec -T api alembic"')
    cwd: str | None = Field(None, description="where alembic.ini lives, relative to the checklist")
    config: str | None = Field(None, description="alembic.ini path, passed as -c")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for alembic")
    pass_target_env: bool = Field(True, description="give alembic the target's settings (DATABASE_URL...)")


class AlembicMissing(RuntimeError):
    """alembic cannot be started at all (not installed, wrong command, wrong container)."""


@dataclass
class Alembic:
    """One way of invoking alembic, with the environment it gets."""

    argv: list[str]
    cwd: str
    env: dict[str, str]

    @classmethod
    def from_params(cls, ctx: CheckContext, p: AlembicParams, *, offline: bool = False,
                    overrides: dict[str, str] | None = None, **env: str) -> Alembic:
        """offline: the run needs no database, so every connection setting points at a `.invalid` host."""
        argv = to_argv(p.command)
        if p.config:
            argv += ["-c", p.config]
        cwd = str(ctx.path(p.cwd) if p.cwd else ctx.workdir)
        base = dict(ctx.env) if p.pass_target_env else {}
        settings = {**base, **p.env, **service_names(ctx, {**env, **(overrides or {})})}
        if offline:
            settings = sanitize_connections(settings)[0]
        return cls(argv=argv, cwd=cwd, env=settings)

    @property
    def shown(self) -> str:
        return mask(" ".join(self.argv))


    async def run(self, *args: str) -> ProcessResult:
        try:
            result = await run_process([*self.argv, *args], env=self.env, cwd=self.cwd)
        except FileNotFoundError:
            raise AlembicMissing(
                f"`{self.argv[0]}` not found: install alembic, or set params.command "
                f'(e.g. "docker compose exec -T api alembic")'
            ) from None
        except NotADirectoryError:
            raise AlembicMissing(f"cwd {self.cwd} is not a directory") from None
        if result.returncode == 127 or (result.returncode != 0 and _NOT_INSTALLED.search(result.stderr)):
            raise AlembicMissing(f"alembic is not available through `{self.shown}`: {mask(result.cause())}")
        return result


def service_names(ctx: CheckContext, values: dict[str, str]) -> dict[str, str]:
    """Each `*_env` override under every name the service may read it by: the checklist's name, the
    prefixed one (`settings.prefix: HUNTER_` -> HUNTER_DATABASE_URL) and an alias; else a prefixed service
    would still read production's URL from HUNTER_DATABASE_URL."""
    settings = ctx.checklist.settings
    out: dict[str, str] = {}
    for name, value in values.items():
        out[name] = value
        if settings.prefix and not name.startswith(settings.prefix):
            out[settings.prefix + name] = value
        if name in settings.aliases:
            out[settings.aliases[name]] = value
    return out


def parse_revisions(text: str) -> list[str]:
    """Revision ids from `alembic current` / `alembic heads` output (log lines are ignored)."""
    return [m["rev"] for line in text.splitlines() if (m := _CURRENT_LINE.match(line.strip()))]


def parse_history(text: str) -> dict[str, tuple[list[str], str]]:
    """`alembic history` output as {revision: (down revisions, message)}."""
    graph: dict[str, tuple[list[str], str]] = {}
    for line in text.splitlines():
        m = _HISTORY_LINE.match(line.strip())
        if not m:
            continue
        down = [] if m["down"].strip() == "<base>" else [d.strip() for d in m["down"].split(",") if d.strip()]
        graph[m["rev"]] = (down, m["msg"].strip())
    return graph


def pending_revisions(
    graph: dict[str, tuple[list[str], str]], current: list[str], heads: list[str]
) -> list[str]:
    """Revisions between current and the heads, oldest first: what `upgrade head` would apply."""

    def ancestors(starts: list[str]) -> list[str]:
        seen: list[str] = []
        stack = list(starts)
        while stack:
            rev = stack.pop()
            if rev in seen:
                continue
            seen.append(rev)
            stack.extend(graph.get(rev, ([], ""))[0])
        return seen

    applied = set(ancestors(current))
    pending = [rev for rev in ancestors(heads) if rev not in applied]
    return list(reversed(pending))


def _describe(graph: dict[str, tuple[list[str], str]], revs: list[str]) -> list[str]:
    return [f"{rev} ({graph[rev][1]})" if rev in graph and graph[rev][1] else rev for rev in revs]


def _failed_run(what: str, result: ProcessResult, **evidence: Any) -> Outcome:
    tail = mask(result.tail(12))
    last = mask(result.cause())
    if "Can't locate revision" in result.stderr:
        last += " — the database is at a revision this code does not know (code older than the database?)"
    return Outcome.failed(f"`{what}` failed (exit {result.returncode}): {last}", **evidence, output_tail=tail)


# --------------------------------------------------------------------------- migration.current


@check_kind("migration.current", AlembicParams)
async def check_migration_current(ctx: CheckContext, p: AlembicParams) -> Outcome:
    """`alembic current` equals `alembic heads`; otherwise list what `upgrade head` would apply."""
    alembic = Alembic.from_params(ctx, p)
    evidence: dict[str, Any] = {"command": alembic.shown}
    try:
        current_run = await alembic.run("current")
        if current_run.returncode != 0:
            return _failed_run("alembic current", current_run, **evidence)
        heads_run = await alembic.run("heads")
        if heads_run.returncode != 0:
            return _failed_run("alembic heads", heads_run, **evidence)
        current, heads = parse_revisions(current_run.stdout), parse_revisions(heads_run.stdout)
        evidence.update(current=current, heads=heads)
        if not heads:
            return Outcome.failed("alembic reports no head revision (no migrations found?)", **evidence)
        if set(current) == set(heads):
            return Outcome.passed(f"database is at head {', '.join(heads)}", **evidence)
        history_run = await alembic.run("history")
    except AlembicMissing as exc:
        return Outcome.failed(str(exc), **evidence)
    graph = parse_history(history_run.stdout) if history_run.returncode == 0 else {}
    pending = pending_revisions(graph, current, heads) if graph else list(heads)
    described = _describe(graph, pending)
    evidence["pending"] = described
    where = f"at {', '.join(current)}" if current else "not migrated yet (no alembic revision)"
    head_text = f"head is {', '.join(heads)}"
    if len(heads) > 1:
        head_text = f"{len(heads)} heads ({', '.join(heads)}) — merge them"
    return Outcome.failed(
        f"database is {where}, {head_text}; {len(pending)} pending: {', '.join(described)}", **evidence
    )


# --------------------------------------------------------------------------- migration.dry_run


class DryRunParams(AlembicParams):
    revision: str = Field(
        "head", description='upgrade target, or a range "<from>:head" (offline mode needs one)'
    )


@check_kind("migration.dry_run", DryRunParams)
async def check_migration_dry_run(ctx: CheckContext, p: DryRunParams) -> Outcome:
    """`alembic upgrade head --sql` (offline mode) generates the migration SQL without running it."""
    alembic = Alembic.from_params(ctx, p, offline=True)
    evidence: dict[str, Any] = {"command": f"{alembic.shown} upgrade {p.revision} --sql"}
    try:
        result = await alembic.run("upgrade", p.revision, "--sql")
    except AlembicMissing as exc:
        return Outcome.failed(str(exc), **evidence)
    evidence["duration_s"] = round(result.duration_s, 2)
    if result.returncode != 0:
        return _failed_run(f"alembic upgrade {p.revision} --sql", result, **evidence)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    statements = sum(
        1 for line in lines if line.rstrip().endswith(";") and not line.lstrip().startswith("--")
    )
    steps = [
        line.strip()[len("-- Running upgrade") :].strip()
        for line in lines
        if line.strip().startswith("-- Running upgrade")
    ]
    evidence.update(statements=statements, lines=len(lines), migrations=steps)
    return Outcome.passed(
        f"upgrade {p.revision} --sql generated {statements} SQL statements "
        f"({len(lines)} lines) for {len(steps)} migration(s)",
        **evidence,
    )


# --------------------------------------------------------------------------- schema.columns


class SchemaColumnsParams(Params):
    url: str = Field(description="database to inspect, usually ${DATABASE_URL}")
    columns: dict[str, list[str]] = Field(min_length=1, description="table -> required columns")
    schema_: str = Field("public", alias="schema", description="schema of unqualified table names")


@check_kind("schema.columns", SchemaColumnsParams)
async def check_schema_columns(ctx: CheckContext, p: SchemaColumnsParams) -> Outcome:
    """Required columns exist (read from pg_catalog, so a low-privileged user still sees every column)."""
    try:
        target = pg_target(p.url)
    except BadDatabaseUrl as exc:
        return Outcome.failed(str(exc))
    wanted = {table: split_table(table, p.schema_) for table in p.columns}
    try:
        conn = await target.connect()
        async with conn:
            cur = await conn.execute(
                "SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_catalog.pg_attribute a "
                "ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                "AND n.nspname = ANY(%s) AND c.relname = ANY(%s)",
                (sorted({s for s, _ in wanted.values()}), sorted({t for _, t in wanted.values()})),
            )
            rows = await cur.fetchall()
    except psycopg.Error as exc:
        return Outcome.failed(
            f"cannot read the schema of {target.shown}: {first_line(exc)}", url=target.shown
        )
    tables: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), set()).add(column)
    missing: list[str] = []
    missing_tables: list[str] = []
    for name, key in wanted.items():
        present = tables.get(key)
        if present is None:
            missing_tables.append(name)
        missing += [f"{name}.{col}" for col in p.columns[name] if present is None or col not in present]
    checked = sum(len(cols) for cols in p.columns.values())
    evidence: dict[str, Any] = {"url": target.shown, "checked": checked, "missing": missing}
    if missing:
        evidence["missing_tables"] = missing_tables
        extra = f" (tables not found: {', '.join(missing_tables)})" if missing_tables else ""
        return Outcome.failed(
            f"{len(missing)} of {checked} required columns missing: {', '.join(missing)}{extra}", **evidence
        )
    return Outcome.passed(f"all {checked} required columns exist in {len(p.columns)} tables", **evidence)


# --------------------------------------------------------------------------- migration.rollback


class RollbackParams(AlembicParams):
    url: str = Field(description="source database the backup came from, usually ${DATABASE_URL}")
    from_check: str = "backup.create"
    path: str | None = Field(None, description="explicit backup file instead of from_check's output")
    maintenance_db: str = "postgres"
    url_env: str = Field(
        "DATABASE_URL", description="the variable alembic's env.py reads the database URL from"
    )
    downgrade: str = Field("-1", description="downgrade target")
    version_table: str = "alembic_version"
    target_minutes: float = Field(10.0, gt=0, description="the migration-rollback time objective")
    scratch_prefix: str = Field(SCRATCH_PREFIX, pattern=r"^[a-z_][a-z0-9_]*$")


async def read_versions(target: PgTarget, table: str) -> list[str]:
    """The revisions recorded in a database's alembic version table (empty when it has none)."""
    conn = await target.connect()
    async with conn:
        schema, name = split_table(table, "public")
        qualified = f"{quote_ident(schema)}.{quote_ident(name)}" if "." in table else quote_ident(name)
        cur = await conn.execute("SELECT to_regclass(%s)", (qualified,))
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return []
        cur = await conn.execute(f"SELECT version_num FROM {qualified}")
        return sorted(str(r[0]) for r in await cur.fetchall())


class RollbackRefused(RuntimeError):
    """The run would not be confined to the scratch copy."""


SCRATCH_WRITES = "a scratch database golive_scratch_<random> on the source's server (created, always dropped)"


@check_kind("migration.rollback", RollbackParams, writes=lambda params: SCRATCH_WRITES)
async def check_migration_rollback(ctx: CheckContext, p: RollbackParams) -> Outcome:
    """Restore the backup into a scratch database; downgrade and upgrade there, never on the source."""
    plan = await plan_restore(ctx, url=p.url, path=p.path, from_check=p.from_check,
                              maintenance_db=p.maintenance_db, scratch_prefix=p.scratch_prefix,
                              purpose="rollback test")
    if isinstance(plan, Outcome):
        return plan
    source, scratch, path, fmt = plan.source, plan.scratch, plan.path, plan.fmt
    if "://" not in source.url:
        return Outcome.failed("url must be a postgresql:// URL (alembic needs a URL for the scratch copy)")
    if scratch.target.same_database(source) or scratch.target.url == source.url:
        return Outcome.failed("refusing: the scratch database URL equals the source URL")
    alembic = Alembic.from_params(ctx, p, overrides={p.url_env: scratch.target.url})
    evidence: dict[str, Any] = {
        "source": source.shown,
        "backup": str(path),
        "scratch_database": scratch.name,
        "scratch_url": scratch.target.shown,
        "command": alembic.shown,
        "target_minutes": p.target_minutes,
    }
    outcome = await run_on_scratch(
        scratch, lambda: _rollback_on_scratch(source, scratch, alembic, path, fmt, p, evidence), evidence)
    if outcome.status is Status.FAIL and not scratch.dropped:
        return outcome
    outcome.evidence = {**evidence, **outcome.evidence}
    outcome.outputs = {
        "scratch_dropped": True,
        **{k: evidence[k] for k in ("downgrade_s", "upgrade_s") if k in evidence},
    }
    return outcome


async def _rollback_on_scratch(
    source: PgTarget,
    scratch: ScratchDatabase,
    alembic: Alembic,
    path: Path,
    fmt: str,
    p: RollbackParams,
    evidence: dict[str, Any],
) -> Outcome:
    try:
        source_before = await read_versions(source, p.version_table)
        await scratch.create()
        # 1. Prove alembic reads url_env: against the empty scratch copy it must see no revision at all.
        empty = await alembic.run("current")
        if empty.returncode != 0:
            return _failed_run("alembic current (scratch copy)", empty)
        if seen := parse_revisions(empty.stdout):
            raise RollbackRefused(
                f"alembic reported revision {', '.join(seen)} for the EMPTY scratch database, so "
                f"it is not using {p.url_env}; refusing to downgrade ({_url_env_hint(p.url_env)})"
            )
        # 2. Restore the backup into the scratch copy.
        restored = await restore_dump(path, fmt, scratch.target)
        evidence["restore_s"] = round(restored.duration_s, 2)
        if restored.returncode != 0:
            evidence["output_tail"] = mask(restored.tail(12))
            return Outcome.failed(
                f"restoring {path.name} into the scratch database failed: {mask(restored.cause())}"
            )
        start = await read_versions(scratch.target, p.version_table)
        evidence["backup_revision"] = start
        if not start:
            return Outcome.failed(f"the backup has no {p.version_table} revision: nothing to roll back")
        # 3. Prove it again on the restored copy: alembic must report exactly the copy's revision.
        check = await alembic.run("current")
        if check.returncode != 0:
            return _failed_run("alembic current (scratch copy)", check)
        if sorted(parse_revisions(check.stdout)) != start:
            raise RollbackRefused(
                f"alembic reported {parse_revisions(check.stdout) or 'no revision'} but the "
                f"scratch copy is at {', '.join(start)}: it is not using {p.url_env}; refusing"
            )
        heads_run = await alembic.run("heads")
        heads = sorted(parse_revisions(heads_run.stdout))
        if heads_run.returncode != 0 or not heads:
            return _failed_run("alembic heads", heads_run)
        evidence["heads"] = heads
        # 4. Bring the copy to head first (a pre-migration backup is behind): the migration itself, timed.
        if start != heads:
            up = await alembic.run("upgrade", "head")
            evidence["migrate_s"] = round(up.duration_s, 2)
            if up.returncode != 0:
                return _failed_run("alembic upgrade head (scratch copy, from the backup's revision)", up)
        # 5. The rollback test: downgrade, then upgrade head again.
        down = await alembic.run("downgrade", p.downgrade)
        evidence["downgrade_s"] = round(down.duration_s, 2)
        if down.returncode != 0:
            return _failed_run(f"alembic downgrade {p.downgrade}", down)
        after_down = await read_versions(scratch.target, p.version_table)
        evidence["downgraded_to"] = after_down or ["<base>"]
        if after_down == heads:
            return Outcome.failed(
                f"`alembic downgrade {p.downgrade}` exited 0 but the scratch copy is still at "
                f"{', '.join(heads)}"
            )
        up = await alembic.run("upgrade", "head")
        evidence["upgrade_s"] = round(up.duration_s, 2)
        if up.returncode != 0:
            return _failed_run("alembic upgrade head (after the downgrade)", up)
        final = await read_versions(scratch.target, p.version_table)
        evidence["final_revision"] = final
        source_after = await read_versions(source, p.version_table)
        evidence["source_revision"] = source_after
    except AlembicMissing as exc:
        return Outcome.failed(str(exc))
    except RollbackRefused as exc:
        return Outcome.failed(str(exc))
    except psycopg.Error as exc:
        return Outcome.failed(f"database error during the rollback test: {first_line(exc)}")
    if final != heads:
        return Outcome.failed(
            f"after downgrade/upgrade the scratch copy is at {final or 'no revision'}, "
            f"expected {', '.join(heads)}"
        )
    if source_after != source_before:
        return Outcome.failed(
            f"the SOURCE database revision changed during the test ({source_before} -> "
            f"{source_after}); investigate before going live"
        )
    total = evidence["downgrade_s"] + evidence["upgrade_s"]
    summary = (
        f"on scratch copy: downgrade {p.downgrade} to {', '.join(after_down) or '<base>'} in "
        f"{evidence['downgrade_s']:g}s, upgrade head in {evidence['upgrade_s']:g}s "
        f"({total / 60:.1f} of {p.target_minutes:g} min target); source untouched, scratch dropped"
    )
    if total / 60 > p.target_minutes:
        return Outcome.warned(f"over the rollback target: {summary}")
    return Outcome.passed(summary)


def _url_env_hint(url_env: str) -> str:
    return (f"set params.url_env to the variable your env.py reads; with settings.prefix the prefixed name is "
            f"set too; when alembic runs in a container, pass `-e {url_env}` in command")


# --------------------------------------------------------------------------- migration.from_scratch

_RUNNING = re.compile(r"Running upgrade\s+(?P<down>.*?)\s*->\s*(?P<rev>[0-9A-Za-z_]+)")


class FromScratchParams(AlembicParams):
    url: str = Field(description="the source database (only its server is used), usually ${DATABASE_URL}")
    maintenance_db: str = "postgres"
    url_env: str = Field("DATABASE_URL", description="the variable alembic's env.py reads the database URL from")
    version_table: str = "alembic_version"
    scratch_prefix: str = Field(SCRATCH_PREFIX, pattern=r"^[a-z_][a-z0-9_]*$")


@check_kind("migration.from_scratch", FromScratchParams, writes=lambda params: SCRATCH_WRITES)
async def check_migration_from_scratch(ctx: CheckContext, p: FromScratchParams) -> Outcome:
    """`alembic upgrade head` on an EMPTY scratch database: the whole chain applies, or the first revision
    that fails is named with its cause. The scratch database is always dropped; the source is not touched."""
    try:
        source = pg_target(p.url)
        scratch = ScratchDatabase.plan(source, p.maintenance_db, p.scratch_prefix)
    except (BadDatabaseUrl, ValueError) as exc:
        return Outcome.failed(f"cannot run the from-scratch test: {exc}")
    if "://" not in source.url:
        return Outcome.failed("url must be a postgresql:// URL (alembic needs a URL for the scratch database)")
    alembic = Alembic.from_params(ctx, p, overrides={p.url_env: scratch.target.url})
    evidence: dict[str, Any] = {"source": source.shown, "scratch_database": scratch.name,
                                "command": alembic.shown}
    outcome = await run_on_scratch(scratch, lambda: _from_scratch(scratch, alembic, p, evidence), evidence)
    if outcome.status is Status.FAIL and not scratch.dropped:
        return outcome
    outcome.evidence = {**evidence, **outcome.evidence}
    return outcome


async def _from_scratch(scratch: ScratchDatabase, alembic: Alembic, p: FromScratchParams,
                        evidence: dict[str, Any]) -> Outcome:
    try:
        await scratch.create()
        empty = await alembic.run("current")
        if empty.returncode != 0:
            return _failed_run("alembic current (empty scratch database)", empty)
        if seen := parse_revisions(empty.stdout):
            return Outcome.failed(
                f"alembic reported revision {', '.join(seen)} for the EMPTY scratch database, so it is not "
                f"using {p.url_env}; refusing ({_url_env_hint(p.url_env)})")
        history_run = await alembic.run("history")
        graph = parse_history(history_run.stdout) if history_run.returncode == 0 else {}
        heads_run = await alembic.run("heads")
        heads = sorted(parse_revisions(heads_run.stdout))
        evidence["heads"] = heads
        chain = pending_revisions(graph, [], heads) if graph else []
        evidence["revisions"] = len(chain)
        up = await alembic.run("upgrade", "head")
        evidence["upgrade_s"] = round(up.duration_s, 2)
        reached = await read_versions(scratch.target, p.version_table)
    except AlembicMissing as exc:
        return Outcome.failed(str(exc))
    except psycopg.Error as exc:
        return Outcome.failed(f"database error during the from-scratch test: {first_line(exc)}")
    if up.returncode != 0:
        started = [m["rev"] for m in _RUNNING.finditer(up.stderr + "\n" + up.stdout)]
        failing = started[-1] if started else _next_after(chain, graph, reached)
        cause = mask(up.cause())
        evidence.update(failing_revision=failing, reached=reached or ["<base>"], output_tail=mask(up.tail(12)))
        name = _describe(graph, [failing])[0] if failing else "(unknown: no revision was started)"
        return Outcome.failed(f"cannot apply from scratch: revision {name} fails: {cause}")
    if heads and reached != heads:
        return Outcome.failed(f"cannot apply from scratch: `alembic upgrade head` exited 0 but the scratch database "
                              f"is at {', '.join(reached) or 'no revision'}, expected {', '.join(heads)}")
    return Outcome.passed(
        f"applied {len(chain) or 'every'} revision(s) to an empty database up to {', '.join(heads)} in "
        f"{up.duration_s:.1f}s; scratch database dropped")


def _next_after(chain: list[str], graph: dict[str, tuple[list[str], str]], reached: list[str]) -> str:
    """The first revision of the chain not yet applied (when alembic's log did not say which one ran)."""
    applied = set(reached)
    for rev in chain:
        if rev not in applied and all(d in applied for d in graph.get(rev, ([], ""))[0]):
            return rev
    return chain[0] if chain else ""
