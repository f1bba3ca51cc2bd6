"""The kinds that run the target's code or data touch only what their docstrings say:
a migration dry run never migrates, a restore never leaves its scratch copy."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psycopg

from checks.result import Status
from tests.checks.conftest import PgCheckHarness, pg_url

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"
ALEMBIC = f"{sys.executable} -m alembic"


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


async def test_dry_run_with_an_env_py_that_ignores_offline_mode_migrates_nothing(
        tmp_path: Path, pg_database: str, pg_checks: PgCheckHarness) -> None:
    project = tmp_path / "alembic_project"
    shutil.copytree(PROJECT, project)
    env_py = project / "env.py"
    text = env_py.read_text()
    env_py.write_text(text[:text.index("if context.is_offline_mode():")] + "run_migrations_online()\n")
    url = pg_url(pg_database)
    pg_checks.env["DATABASE_URL"] = url  # production's URL in the target's settings
    outcome = await pg_checks.outcome("migration.dry_run", {"command": ALEMBIC, "cwd": str(project)})
    assert outcome.status is Status.FAIL, outcome.summary
    assert ".invalid" in outcome.evidence["output_tail"]
    assert tables(url) == set(), "the dry run migrated the real database"


async def test_dry_run_still_generates_sql_with_the_connection_settings_made_unroutable(
        pg_database: str, pg_checks: PgCheckHarness) -> None:
    pg_checks.env["DATABASE_URL"] = pg_url(pg_database)
    outcome = await pg_checks.outcome("migration.dry_run", {"command": ALEMBIC, "cwd": str(PROJECT)})
    assert outcome.status is Status.PASS, outcome.summary
    assert tables(pg_url(pg_database)) == set()


async def test_a_plain_dump_cannot_connect_elsewhere_or_run_a_shell(
        tmp_path: Path, pg_database: str, pg_checks: PgCheckHarness) -> None:
    source = pg_url(pg_database)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE companies (id int)")
    marker = tmp_path / "SHELL-RAN"
    dump = tmp_path / "evil.sql"
    dump.write_text(
        "-- PostgreSQL database dump\nCREATE TABLE companies (id int);\n"
        f"\\! touch {marker}\n"
        f"\\connect {pg_database}\n"
        "CREATE TABLE escaped_the_scratch_copy (id int);\n"
        "-- PostgreSQL database dump complete\n")
    outcome = await pg_checks.outcome("backup.restore_dry_run", {"url": source, "path": str(dump)})
    assert outcome.status is Status.FAIL, outcome.summary
    assert not marker.exists(), "a meta-command in the dump ran a shell on the bot host"
    assert tables(source) == {"companies"}, "the dump reached the source database"
