"""migration.current / migration.dry_run / schema.columns / migration.rollback with a real Alembic project."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from checks.kinds.migration import parse_history, parse_revisions, pending_revisions
from checks.result import Status
from tests.checks.conftest import PgCheckHarness, PgRole, pg_database_exists, pg_databases_like, pg_text_of, pg_url

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"
ALEMBIC = f"{sys.executable} -m alembic"
REV1, REV2 = "a1b2c3d4e5f6", "f6e5d4c3b2a1"
HUNTER_COLUMNS = {"companies": ["tenant_size"], "domain_signals": ["local_provider", "dmarc_coverage"]}


# A database the test starts from "already migrated to X" is a clone of a template that `alembic upgrade X`
# migrated once per session (tests/conftest.py `migrated_database`): the same tables and alembic_version row,
# without a 1-3 s alembic process per test. The checks under test still run alembic for real.


def versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,):
            return []
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]


def params(env_url: str | None = None, **extra: Any) -> dict[str, Any]:
    """Params running the fixture project; env_url is handed to alembic as DATABASE_URL."""
    base: dict[str, Any] = {"command": ALEMBIC, "cwd": str(PROJECT)}
    if env_url is not None:
        base["env"] = {"DATABASE_URL": env_url}
    return {**base, **extra}


# --------------------------------------------------------------------------- parsing


def test_parsing_alembic_output() -> None:
    assert parse_revisions("INFO  [alembic] Context impl\nf6e5d4c3b2a1 (head)\n") == ["f6e5d4c3b2a1"]
    assert parse_revisions("abc (head) (mergepoint)\n\n") == ["abc"]
    graph = parse_history("a -> b (head), second\n<base> -> a, first\n")
    assert graph == {"b": (["a"], "second"), "a": ([], "first")}
    assert pending_revisions(graph, [], ["b"]) == ["a", "b"]
    assert pending_revisions(graph, ["a"], ["b"]) == ["b"]
    merge = parse_history("b, c -> d (head) (mergepoint), merge\na -> c, c\na -> b (branchpoint), b\n<base> -> a, a")
    assert pending_revisions(merge, ["b"], ["d"]) == ["c", "d"]


# --------------------------------------------------------------------------- migration.current


async def test_current_at_head_passes(migrated_database: Callable[[str], str], pg_checks: PgCheckHarness) -> None:
    url = pg_url(migrated_database("head"))
    pg_checks.env["DATABASE_URL"] = url  # the target's settings reach alembic (pass_target_env)
    outcome = await pg_checks.outcome("migration.current", params())
    assert outcome.status is Status.PASS, outcome.summary
    assert REV2 in outcome.summary and outcome.evidence["current"] == [REV2]


async def test_current_behind_head_lists_pending(migrated_database: Callable[[str], str],
                                                 pg_checks: PgCheckHarness) -> None:
    url = pg_url(migrated_database(REV1))
    outcome = await pg_checks.outcome("migration.current", params(url))
    assert outcome.status is Status.FAIL
    assert f"at {REV1}, head is {REV2}; 1 pending: {REV2} (domain_signals with" in outcome.summary
    assert outcome.evidence["pending"] == [f"{REV2} (domain_signals with local_provider and dmarc_coverage)"]


async def test_current_never_migrated_lists_everything(pg_database: str, pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("migration.current", params(pg_url(pg_database)))
    assert outcome.status is Status.FAIL
    assert "not migrated yet" in outcome.summary and "2 pending" in outcome.summary
    assert [p.split()[0] for p in outcome.evidence["pending"]] == [REV1, REV2]


async def test_alembic_missing_is_a_clear_failure(pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("migration.current", {"command": "alembic-not-installed-here"})
    assert outcome.status is Status.FAIL
    assert "`alembic-not-installed-here` not found: install alembic" in outcome.summary
    outcome = await pg_checks.outcome("migration.current", {"command": f"{sys.executable} -S -m alembic"})
    assert outcome.status is Status.FAIL and "alembic is not available through" in outcome.summary


async def test_current_without_a_database_reports_the_error(pg_checks: PgCheckHarness) -> None:
    url = "postgresql://someone:HiddenPw123@127.0.0.1:1/nothing"
    outcome = await pg_checks.outcome("migration.current", params(url))
    assert outcome.status is Status.FAIL and "`alembic current` failed" in outcome.summary
    result = await pg_checks.result("migration.current", params(url))
    assert "HiddenPw123" not in pg_text_of(result)


# --------------------------------------------------------------------------- migration.dry_run


async def test_dry_run_generates_sql(pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("migration.dry_run", params())
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.evidence["statements"] >= 4  # alembic_version + 2 tables + version bookkeeping
    assert outcome.evidence["migrations"] == [f"-> {REV1}", f"{REV1} -> {REV2}"]
    assert "for 2 migration(s)" in outcome.summary


async def test_dry_run_of_an_unknown_revision_fails_with_the_tail(pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("migration.dry_run", params(revision="deadbeef0000"))
    assert outcome.status is Status.FAIL
    assert "deadbeef0000" in outcome.evidence["output_tail"]


# --------------------------------------------------------------------------- schema.columns


async def test_schema_columns_pass_at_head(migrated_database: Callable[[str], str], pg_checks: PgCheckHarness) -> None:
    url = pg_url(migrated_database("head"))
    outcome = await pg_checks.outcome("schema.columns", {"url": url, "columns": HUNTER_COLUMNS})
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.summary == "all 3 required columns exist in 2 tables"


async def test_schema_columns_lists_every_missing_column(
    migrated_database: Callable[[str], str], pg_password_role: PgRole, pg_checks: PgCheckHarness
) -> None:
    url = pg_password_role.url(migrated_database(REV1))
    columns = {**HUNTER_COLUMNS, "companies": ["tenant_size", "domain", "employee_count"]}
    outcome = await pg_checks.outcome("schema.columns", {"url": url, "columns": columns})
    assert outcome.status is Status.FAIL
    assert outcome.evidence["missing"] == [
        "companies.employee_count", "domain_signals.local_provider", "domain_signals.dmarc_coverage"]
    assert outcome.evidence["missing_tables"] == ["domain_signals"]
    assert "3 of 5 required columns missing" in outcome.summary
    assert pg_password_role.password not in pg_text_of(outcome)


# --------------------------------------------------------------------------- migration.rollback


@pytest.fixture
def migrated_source(migrated_database: Callable[[str], str]) -> str:
    """A database at head with rows in both tables."""
    name = migrated_database("head")
    url = pg_url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO companies (domain, tenant_size) SELECT 'c' || g, 'small' "
                     "FROM generate_series(1, 12) g")
        conn.execute("INSERT INTO domain_signals (domain, local_provider, dmarc_coverage) "
                     "SELECT 'c' || g, 'Google', 50 FROM generate_series(1, 9) g")
    return name


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        a = conn.execute("SELECT count(*) FROM companies").fetchone()
        b = conn.execute("SELECT count(*) FROM domain_signals").fetchone()
    assert a is not None and b is not None
    return a[0], b[0]


async def test_rollback_runs_only_on_the_scratch_copy(
    migrated_source: str, pg_password_role: PgRole, pg_checks: PgCheckHarness
) -> None:
    url = pg_password_role.url(migrated_source)
    prefix = f"golive_scratch_rb{secrets.token_hex(4)}_"  # unique: other runs share the server
    pg_checks.env["DATABASE_URL"] = url  # the target's own DATABASE_URL is the SOURCE: it must be overridden
    assert (await pg_checks.outcome("backup.create", {"url": url})).status is Status.PASS
    outcome = await pg_checks.outcome("migration.rollback", params(url=url, scratch_prefix=prefix + "a"))
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.evidence["backup_revision"] == [REV2]
    assert outcome.evidence["downgraded_to"] == [REV1]
    assert outcome.evidence["final_revision"] == [REV2]
    assert outcome.evidence["downgrade_s"] >= 0 and outcome.evidence["upgrade_s"] >= 0
    assert "migrate_s" not in outcome.evidence  # the backup was already at head
    assert "source untouched" in outcome.summary and "10 min target" in outcome.summary
    assert outcome.outputs["scratch_dropped"] is True
    assert not pg_database_exists(outcome.evidence["scratch_database"])
    # The source never moved: still at head, its tables and rows intact.
    assert versions(pg_url(migrated_source)) == [REV2]
    assert _counts(pg_url(migrated_source)) == (12, 9)
    assert pg_password_role.password not in pg_text_of(outcome)
    result = await pg_checks.result("migration.rollback", params(url="${DATABASE_URL}", scratch_prefix=prefix + "b"))
    assert result.status is Status.PASS and pg_password_role.password not in pg_text_of(result)
    assert pg_databases_like(prefix) == []


async def test_rollback_from_a_pre_migration_backup_migrates_the_copy_first(
    migrated_database: Callable[[str], str], pg_checks: PgCheckHarness
) -> None:
    url = pg_url(migrated_database(REV1))  # production before the go-live: one migration behind
    assert (await pg_checks.outcome("backup.create", {"url": url, "format": "plain"})).status is Status.PASS
    outcome = await pg_checks.outcome("migration.rollback", params(url=url))
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.evidence["backup_revision"] == [REV1] and outcome.evidence["migrate_s"] >= 0
    assert outcome.evidence["final_revision"] == [REV2]
    assert versions(url) == [REV1]  # the source was not migrated by the test


async def test_rollback_refuses_when_alembic_ignores_the_scratch_url(
    migrated_source: str, pg_checks: PgCheckHarness
) -> None:
    url = pg_url(migrated_source)
    assert (await pg_checks.outcome("backup.create", {"url": url})).status is Status.PASS
    # env.py reads DATABASE_URL (the source); url_env names a variable it never looks at.
    outcome = await pg_checks.outcome("migration.rollback",
                                      params(url, url=url, url_env="SOME_OTHER_DATABASE_URL"))
    assert outcome.status is Status.FAIL
    assert "EMPTY scratch database" in outcome.summary and "refusing" in outcome.summary
    assert outcome.evidence["scratch_dropped"] is True
    assert versions(url) == [REV2] and _counts(url) == (12, 9)


async def test_rollback_without_a_backup_fails_clearly(pg_database: str, pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("migration.rollback", params(url=pg_url(pg_database)))
    assert outcome.status is Status.FAIL and "backup.create" in outcome.summary


async def test_rollback_timeout_still_drops_the_scratch_copy(
    migrated_source: str, pg_checks: PgCheckHarness
) -> None:
    url = pg_url(migrated_source)
    prefix = f"golive_scratch_rbt{secrets.token_hex(4)}_"
    assert (await pg_checks.outcome("backup.create", {"url": url})).status is Status.PASS
    result = await pg_checks.result("migration.rollback", params(url=url, scratch_prefix=prefix), timeout=1.5)
    assert result.status is Status.FAIL and "timed out" in result.summary
    assert pg_databases_like(prefix) == []
    assert versions(url) == [REV2]


async def test_day2_phase_through_the_runner(
    migrated_source: str, pg_password_role: PgRole, tmp_path: Path
) -> None:
    """The Day 2 checks as a checklist declares them: outputs flow from backup.create through `needs`."""
    from checks.loader import parse_checklist
    from checks.runner import Runner

    alembic_params = f"{{command: '{ALEMBIC}', cwd: '{PROJECT}'}}"
    text = f"""
name: day2
phases:
  - id: day2
    checks:
      - {{id: backup.create, kind: backup.create, params: {{url: "${{DATABASE_URL}}", dir: "{tmp_path}/b"}}}}
      - {{id: backup.integrity, kind: backup.integrity, needs: [backup.create]}}
      - id: backup.restore_dry_run
        kind: backup.restore_dry_run
        needs: [backup.integrity]
        params: {{url: "${{DATABASE_URL}}", tables: [companies, domain_signals]}}
      - {{id: migration.current, kind: migration.current, params: {alembic_params}}}
      - {{id: migration.dry_run, kind: migration.dry_run, params: {alembic_params}}}
      - id: schema.columns
        kind: schema.columns
        params:
          url: "${{DATABASE_URL}}"
          columns: {{companies: [tenant_size], domain_signals: [local_provider, dmarc_coverage]}}
      - id: rollback.migration
        kind: migration.rollback
        timeout: 120
        needs: [backup.integrity]
        params: {{url: "${{DATABASE_URL}}", command: '{ALEMBIC}', cwd: '{PROJECT}'}}
"""
    checklist = parse_checklist(text, str(tmp_path / "day2.yml"))
    env = {"DATABASE_URL": pg_password_role.url(migrated_source)}
    report = await Runner(checklist, env=env).run(checklist.all_checks())
    for result in report.results:
        assert result.status is Status.PASS, f"{result.check_id}: {result.summary}"
        assert pg_password_role.password not in pg_text_of(result)
    assert report.verdict.go
    assert versions(pg_url(migrated_source)) == [REV2]
