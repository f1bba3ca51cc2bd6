"""`migration.from_scratch` applies the whole alembic chain to an empty scratch database and names the first
revision that fails with its cause; the scratch database is always dropped. A `*_env` parameter follows the
checklist's settings prefix (issue 20)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psycopg

from checks.registry import CheckContext, get_kind
from checks.result import Status
from checks.spec import Checklist, CheckSpec, PhaseSpec, SettingsSource
from tests.checks.conftest import PgCheckHarness, pg_database_exists, pg_url

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"
ALEMBIC = f"{sys.executable} -m alembic"

BROKEN_REVISION = '''"""add a column to the legacy table that only schema.sql ever created

Revision ID: 0badc0ffee01
Revises: f6e5d4c3b2a1
"""

from alembic import op

revision = "0badc0ffee01"
down_revision = "f6e5d4c3b2a1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE legacy_leads ADD COLUMN g20_score integer")


def downgrade() -> None:
    op.execute("ALTER TABLE legacy_leads DROP COLUMN g20_score")
'''


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


async def test_the_fixture_chain_applies_from_scratch_and_the_scratch_database_is_dropped(
        pg_database: str, pg_checks: PgCheckHarness) -> None:
    url = pg_url(pg_database)
    outcome = await pg_checks.outcome("migration.from_scratch", {"url": url, "command": ALEMBIC, "cwd": str(PROJECT)})
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.summary.startswith("applied 2 revision(s) to an empty database up to f6e5d4c3b2a1")
    assert not pg_database_exists(outcome.evidence["scratch_database"])
    assert tables(url) == set()  # the source was never migrated


async def test_a_chain_that_cannot_build_an_empty_database_names_the_failing_revision_and_its_cause(
        tmp_path: Path, pg_database: str, pg_checks: PgCheckHarness) -> None:
    project = tmp_path / "broken"
    shutil.copytree(PROJECT, project)
    (project / "versions" / "0badc0ffee01_legacy.py").write_text(BROKEN_REVISION)
    outcome = await pg_checks.outcome("migration.from_scratch",
                                      {"url": pg_url(pg_database), "command": ALEMBIC, "cwd": str(project)})
    assert outcome.status is Status.FAIL
    assert outcome.summary.startswith("cannot apply from scratch: revision 0badc0ffee01 (")
    assert 'relation "legacy_leads" does not exist' in outcome.summary, outcome.summary
    assert outcome.evidence["failing_revision"] == "0badc0ffee01"
    assert outcome.evidence["scratch_dropped"] is True
    assert not pg_database_exists(outcome.evidence["scratch_database"])


def _prefixed_ctx(tmp_path: Path, spec: CheckSpec, env: dict[str, str]) -> CheckContext:
    checklist = Checklist(name="prefixed", settings=SettingsSource(prefix="HUNTER_"),
                          phases=[PhaseSpec(id="day2", checks=[spec])])
    return CheckContext(checklist=checklist, env=env, check=spec, workdir=tmp_path)


async def test_url_env_follows_the_settings_prefix(tmp_path: Path, migrated_database) -> None:  # type: ignore[no-untyped-def]
    """A service whose env.py reads HUNTER_DATABASE_URL, with `settings.prefix: HUNTER_` and the default
    `url_env: DATABASE_URL`: alembic must be given the scratch URL under HUNTER_DATABASE_URL too, or it
    reads production's (here: a database at head) and the check refuses."""
    project = tmp_path / "prefixed"
    shutil.copytree(PROJECT, project)
    env_py = project / "env.py"
    env_py.write_text(env_py.read_text().replace('os.environ.get("DATABASE_URL"',
                                                 'os.environ.get("HUNTER_DATABASE_URL"'))
    source = pg_url(migrated_database("head"))
    params = {"url": source, "command": ALEMBIC, "cwd": str(project)}
    spec = CheckSpec(id="migration.from_scratch", kind="migration.from_scratch", params=params)
    kind = get_kind("migration.from_scratch")
    assert kind is not None
    env = {"HUNTER_DATABASE_URL": source, "DATABASE_URL": source}  # what the runner's names give a prefixed service
    outcome = await kind.run(_prefixed_ctx(tmp_path, spec, env), kind.params.model_validate(params))
    assert outcome.status is Status.PASS, outcome.summary
    assert "docker" not in outcome.summary
