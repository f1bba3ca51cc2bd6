"""Backups the checks create are bounded: a retention rule (newest N, or D days; default 3) runs after each
successful backup.create and is shown in its evidence; nothing but golive's own backup files in its own
folder is ever deleted. A pg_dump older than the server is named in one line, with the fix (issue 20)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from checks.kinds.backup import apply_retention
from checks.result import Status
from tests.checks.conftest import PgCheckHarness, pg_url


def _own(directory: Path, when: datetime, version: str = "v1.0", suffix: str = ".dump") -> Path:
    path = directory / f"backup_pre_{version}_{when:%Y%m%d_%H%M%S}{suffix}"
    path.write_bytes(b"PGDMP old")
    return path


def test_keep_newest_deletes_only_golives_own_old_files(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    base = datetime(2026, 1, 1, 12, 0, 0)
    own = [_own(backups, base + timedelta(hours=i)) for i in range(5)]  # oldest first
    foreign = backups / "customer_export.dump"
    foreign.write_text("not golive's")
    lookalike = backups / "backup_pre_v1.0_20200101_000000.dump.partial"  # not a finished golive name
    lookalike.write_text("x")
    manual = backups / "backup_20200101_000000.sql"  # the runbook's own naming, someone else's file
    manual.write_text("x")
    outside = tmp_path / "precious.dump"
    outside.write_text("outside the folder")
    link = backups / "backup_pre_v1.0_20190101_000000.dump"  # an old golive name, but a symlink
    link.symlink_to(outside)
    result = apply_retention(backups, keep_newest=3, keep_days=None)
    assert result["rule"] == "keep the newest 3"
    assert result["deleted"] == [own[1].name, own[0].name]
    assert result["kept"] == [own[4].name, own[3].name, own[2].name]
    assert [p.exists() for p in own] == [False, False, True, True, True]
    for survivor in (foreign, lookalike, manual, outside):
        assert survivor.exists(), survivor
    assert link.is_symlink() and outside.read_text() == "outside the folder"


def test_keep_days_deletes_by_the_timestamp_golive_wrote_and_always_keeps_the_newest(tmp_path: Path) -> None:
    now = datetime(2026, 6, 1, 12, 0, 0)
    recent = _own(tmp_path, now - timedelta(days=1))
    old = _own(tmp_path, now - timedelta(days=10), suffix=".sql")
    other_version = _own(tmp_path, now - timedelta(days=30), version="v0.9")
    result = apply_retention(tmp_path, keep_newest=None, keep_days=7, now=now)
    assert sorted(result["deleted"]) == sorted([old.name, other_version.name])
    assert recent.exists() and not old.exists() and not other_version.exists()
    alone = tmp_path / "alone"
    alone.mkdir()
    lone_old = _own(alone, now - timedelta(days=99))
    assert apply_retention(alone, keep_newest=None, keep_days=7, now=now)["deleted"] == []
    assert lone_old.exists()  # the newest is kept however old


async def test_backup_create_applies_the_rule_after_each_success_and_shows_it(
        tmp_path: Path, pg_seeded_database: str, pg_checks: PgCheckHarness) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    for i in range(3):
        _own(backups, datetime(2020, 1, 1) + timedelta(days=i))
    foreign = backups / "notes.txt"
    foreign.write_text("keep me")
    params = {"url": pg_url(pg_seeded_database), "dir": str(backups), "keep_newest": 2}
    outcome = await pg_checks.outcome("backup.create", params)
    assert outcome.status is Status.PASS, outcome.summary
    retention = outcome.evidence["retention"]
    assert retention["rule"] == "keep the newest 2" and len(retention["deleted"]) == 2
    assert "retention (keep the newest 2): 2 old backup(s) deleted" in outcome.summary
    new = Path(outcome.evidence["path"]).name
    assert retention["kept"][0] == new
    assert sorted(p.name for p in backups.iterdir()) == sorted([new, "backup_pre_v1.0_20200103_000000.dump",
                                                                 "notes.txt"])


async def test_the_default_rule_keeps_three(tmp_path: Path, pg_seeded_database: str,
                                            pg_checks: PgCheckHarness) -> None:
    backups = tmp_path / "b"
    backups.mkdir()
    for i in range(4):
        _own(backups, datetime(2020, 1, 1) + timedelta(days=i))
    outcome = await pg_checks.outcome("backup.create", {"url": pg_url(pg_seeded_database), "dir": str(backups)})
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.evidence["retention"]["rule"] == "keep the newest 3"
    assert len(list(backups.iterdir())) == 3


async def test_a_pg_dump_older_than_the_server_is_named_in_one_line_with_the_fix(
        tmp_path: Path, pg_seeded_database: str, pg_checks: PgCheckHarness,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for the client, the rest real. One PostgreSQL major is installed here, so a real client
    older than the real server cannot be had: the `pg_dump` first on PATH is a script that answers
    `--version` as an old Debian build does (package suffix included) and, asked to dump, fails the way
    pg_dump does next to a newer server. The server's version is the real server's `server_version_num`;
    reading both versions and comparing them is the check's own code."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "pg_dump"
    wrapper.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then '
                       'echo "pg_dump (PostgreSQL) 9.6.24 (Debian 9.6.24-1.pgdg120+1)"; exit 0; fi\n'
                       'echo "pg_dump: error: aborting because of server version mismatch" >&2\nexit 1\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    outcome = await pg_checks.outcome("backup.create", {"url": pg_url(pg_seeded_database),
                                                        "dir": str(tmp_path / "backups")})
    assert outcome.status is Status.FAIL
    assert "\n" not in outcome.summary
    assert outcome.summary.startswith("pg_dump 9.6 is older than the server (")
    assert "install postgresql-client-" in outcome.summary and "or newer" in outcome.summary
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())


def test_the_installed_pg_dumps_version_is_read_as_the_servers_major() -> None:
    """The real client's own words (Debian's build says "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)",
    which the check once could not read, so its one-line fix never showed) give the major the real server
    reports: the comparison the backup check makes sees equal majors here."""
    import subprocess

    import psycopg

    from checks.kinds.backup import _major
    from tests.conftest import PG_URL

    said = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    with psycopg.connect(PG_URL) as conn:
        server_major = conn.info.server_version // 10000
    client = _major(said)
    assert client is not None and client[0] == server_major, (said, server_major)
    assert _major("pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)") == (17, 2)
    assert _major("pg_dump (PostgreSQL) 18beta1") == (18, 0)
