"""A failing command is summarised by the line that names the cause, not by its last line
(SQLAlchemy's "(Background on this error at: ...)" says nothing)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from checks.process import first_error_line, is_error_line
from checks.result import Status
from tests.checks.conftest import PgCheckHarness, pg_url

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"
BROKEN_REVISION = '''"""drop an index that was never created"""
from alembic import op

revision = "0badc0ffee00"
down_revision = "f6e5d4c3b2a1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_companies_tenant_size_missing", table_name="companies")


def downgrade() -> None:
    pass
'''


def broken_project(tmp_path: Path) -> Path:
    project = tmp_path / "alembic_project"
    shutil.copytree(PROJECT, project)
    (project / "versions" / "0badc0ffee00_broken.py").write_text(BROKEN_REVISION)
    return project


async def test_a_failing_alembic_upgrade_names_the_missing_index(
        tmp_path: Path, pg_database: str, pg_checks: PgCheckHarness) -> None:
    project = broken_project(tmp_path)
    params: dict[str, Any] = {"command": [sys.executable, "-m", "alembic", "upgrade", "head"], "cwd": str(project),
                              "env": {"DATABASE_URL": pg_url(pg_database)}}
    result = await pg_checks.result("command", params)
    assert result.status is Status.FAIL
    assert "(Background on this error at" in result.evidence["output_tail"]  # the old summary line is there
    assert "Background on this error" not in result.summary
    assert 'index "ix_companies_tenant_size_missing" does not exist' in result.summary, result.summary
    assert result.summary.startswith("`")  # still says which command and how it exited
    assert "exited 1 (expected 0)" in result.summary


async def test_migration_current_without_a_server_says_connection_refused(pg_checks: PgCheckHarness) -> None:
    params = {"command": f"{sys.executable} -m alembic", "cwd": str(PROJECT),
              "env": {"DATABASE_URL": "postgresql://app@127.0.0.1:1/app"}}
    outcome = await pg_checks.outcome("migration.current", params)
    assert outcome.status is Status.FAIL
    assert "Connection refused" in outcome.summary or "connection refused" in outcome.summary, outcome.summary
    assert "Background on this error" not in outcome.summary


SCRIPT = r"""
echo "deploying release 42"
echo "INFO  [deploy] building image" >&2
echo "Traceback (most recent call last):" >&2
echo '  File "deploy.py", line 3, in <module>' >&2
echo '    raise ValueError("bad error: not this line")' >&2
echo "deploy.errors.ImageMissingError: image registry.example/api:42 not found" >&2
echo "ERROR: rollout aborted" >&2
echo "cleaning up temporary files" >&2
exit 2
"""


async def test_a_crafted_script_is_summarised_by_its_first_error_line(
        tmp_path: Path, pg_checks: PgCheckHarness) -> None:
    script = tmp_path / "deploy.sh"
    script.write_text(SCRIPT)
    result = await pg_checks.result("command", {"command": ["bash", str(script)]})
    assert result.status is Status.FAIL
    assert result.summary.endswith(
        "exited 2 (expected 0): deploy.errors.ImageMissingError: image registry.example/api:42 not found"), \
        result.summary
    assert result.evidence["error_line"].startswith("deploy.errors.ImageMissingError")
    assert "cleaning up temporary files" not in result.summary


async def test_without_an_error_line_the_last_line_is_shown(tmp_path: Path, pg_checks: PgCheckHarness) -> None:
    result = await pg_checks.result("command", {"command": ["bash", "-c", "echo step one; echo gave up >&2; exit 3"]})
    assert result.status is Status.FAIL and result.summary.endswith("exited 3 (expected 0): gave up")


def test_what_reads_as_an_error() -> None:
    assert is_error_line("sqlalchemy.exc.ProgrammingError: (psycopg.errors.UndefinedObject) index x does not exist")
    assert is_error_line("psql:reset.sql:3: ERROR:  relation \"x\" does not exist")
    assert is_error_line("FATAL:  password authentication failed for user \"app\"")
    assert is_error_line("FAILED: Can't locate revision identified by 'deadbeef'")
    assert is_error_line("npm error: missing script")
    assert is_error_line("Error: Cannot find module 'x'")
    assert not is_error_line("(Background on this error at: https://sqlalche.me/e/20/f405)")
    assert not is_error_line("Traceback (most recent call last):")
    assert not is_error_line("    except OSError:")
    assert not is_error_line("INFO  [alembic.runtime.migration] Running upgrade")
    assert first_error_line("ok\nValueError: first\nRuntimeError: second\n") == "ValueError: first"
