"""`golive run day2` of the bundled Hunter checklist, for real: pg_dump of a database with rows,
integrity, restore into a scratch database with row counts compared, alembic current/dry-run/rollback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from checks.loader import bundled_checklist
from tests.cli.inprocess import golive_in_process
from tests.conftest import PG_URL

ALEMBIC_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"


@pytest.fixture
def hunter_database(migrated_database: Callable[[str], str]) -> Iterator[str]:
    """A database at head (a clone of the session's migrated template) with rows; dropped afterwards."""
    name = migrated_database("head")
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO companies (domain, tenant_size) SELECT 'c' || g || '.example', 'small' "
                     "FROM generate_series(1, 120) g")
        conn.execute("INSERT INTO domain_signals (domain, local_provider, dmarc_coverage) "
                     "SELECT 'c' || g || '.example', 'none', 0.5 FROM generate_series(1, 75) g")
    yield name


def database_exists(name: str) -> bool:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_day2_backs_up_verifies_restores_and_tests_the_migration_both_ways(tmp_path: Path,
                                                                           hunter_database: str) -> None:
    url = PG_URL.replace("postgres@", "postgres:Day2-Secret-3@").rsplit("/", 1)[0] + f"/{hunter_database}"
    env = {"DATABASE_URL": url, "HUNTER_ALEMBIC_DIR": str(ALEMBIC_DIR),
           "HUNTER_BACKUP_DIR": str(tmp_path / "backups"), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    proc = golive_in_process("run", "day2", "--checklist", str(bundled_checklist("hunter")), "--json", env=env,
                             cwd=tmp_path)
    payload = json.loads(proc.stdout)
    results = {r["check_id"]: r for r in payload["results"]}
    summary = {k: (v["status"], v["summary"]) for k, v in results.items()}
    assert all(r["status"] == "pass" for r in results.values()), summary
    assert proc.returncode == 0 and payload["verdict"]["decision"] == "go"
    restore = results["backup.restore_dry_run"]
    assert "companies" in json.dumps(restore["evidence"]) and "120" in json.dumps(restore["evidence"])
    dumps = list((tmp_path / "backups").glob("backup_pre_v1.0_*.dump"))
    assert len(dumps) == 1 and dumps[0].read_bytes()[:5] == b"PGDMP"
    scratch_names = [results[c]["evidence"]["scratch_database"] for c in ("backup.restore_dry_run",
                                                                          "rollback.migration")]
    assert all(name.startswith("golive_scratch_") for name in scratch_names)
    assert not any(database_exists(name) for name in scratch_names), "a scratch database was left behind"
    assert "Day2-Secret-3" not in proc.stdout + proc.stderr
    status = golive_in_process("status", "--checklist", str(bundled_checklist("hunter")), env=env, cwd=tmp_path)
    assert "Migration (rehearsed on a scratch copy):" in status.stdout
