"""backup.create / backup.integrity / backup.restore_dry_run against the real PostgreSQL server and pg tools."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path
from typing import Any

import psycopg
import pytest

import checks.kinds.backup as backup_mod
from checks.process import ProcessResult, run_process
from checks.result import Status
from tests.checks.conftest import (
    SEED_COMPANIES,
    SEED_SIGNALS,
    PgCheckHarness,
    PgRole,
    pg_database_exists,
    pg_databases_like,
    pg_text_of,
    pg_url,
)


@pytest.fixture
def argv_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    """Records what the pg tools were started with (the real programs still run)."""
    calls: list[tuple[list[str], dict[str, str]]] = []

    async def spy(command: Any, **kwargs: Any) -> ProcessResult:
        calls.append((list(command), dict(kwargs.get("env") or {})))
        return await run_process(command, **kwargs)

    monkeypatch.setattr(backup_mod, "run_process", spy)
    return calls


@pytest.mark.parametrize("fmt, suffix", [("custom", ".dump"), ("plain", ".sql")])
async def test_create_integrity_restore_roundtrip(
    fmt: str, suffix: str, pg_seeded_database: str, pg_password_role: PgRole, pg_checks: PgCheckHarness,
    argv_spy: list[tuple[list[str], dict[str, str]]],
) -> None:
    url = pg_password_role.url(pg_seeded_database)
    pg_checks.env["DATABASE_URL"] = url
    prefix = f"golive_scratch_t{secrets.token_hex(4)}_"

    created = await pg_checks.outcome("backup.create", {"url": url, "format": fmt, "version": "v1.0"})
    assert created.status is Status.PASS, created.summary
    path = Path(created.outputs["path"])
    assert path.parent == pg_checks.workdir / "backups"
    assert re.fullmatch(rf"backup_pre_v1\.0_\d{{8}}_\d{{6}}{re.escape(suffix)}", path.name)
    assert created.outputs["format"] == fmt and created.outputs["size"] == path.stat().st_size > 0
    assert {"path", "size", "duration_s"} <= set(created.evidence)
    assert not list(path.parent.glob("*.partial"))

    integrity = await pg_checks.outcome("backup.integrity", {})
    assert integrity.status is Status.PASS, integrity.summary

    restored = await pg_checks.outcome("backup.restore_dry_run", {"url": url, "scratch_prefix": prefix})
    assert restored.status is Status.PASS, restored.summary
    tables = restored.evidence["tables"]
    assert tables["companies"] == {"source": SEED_COMPANIES, "restored": SEED_COMPANIES}
    assert tables["domain_signals"] == {"source": SEED_SIGNALS, "restored": SEED_SIGNALS}
    assert tables["empty_audit"] == {"source": 0, "restored": 0}
    assert "15 min target" in restored.summary and restored.evidence["restore_s"] >= 0
    assert restored.outputs["scratch_dropped"] is True
    assert not pg_database_exists(restored.evidence["scratch_database"])
    assert pg_databases_like(prefix) == []

    # The password reaches the tools only through PGPASSWORD, never argv, and is never shown.
    assert argv_spy, "the pg tools should have run"
    for argv, env in argv_spy:
        assert not any(pg_password_role.password in a for a in argv), argv
        if "--dbname" in argv:  # every tool that connects gets the password from the environment
            assert env.get("PGPASSWORD") == pg_password_role.password
    for outcome in (created, integrity, restored):
        assert pg_password_role.password not in pg_text_of(outcome)


async def test_through_the_runner_with_interpolated_url_nothing_leaks(
    pg_seeded_database: str, pg_password_role: PgRole, pg_checks: PgCheckHarness
) -> None:
    url = pg_password_role.url(pg_seeded_database, scheme="postgresql+psycopg")  # SQLAlchemy-style URL too
    pg_checks.env["DATABASE_URL"] = url
    created = await pg_checks.result("backup.create", {"url": "${DATABASE_URL}", "format": "custom"})
    assert created.status is Status.PASS, created.summary
    restored = await pg_checks.result("backup.restore_dry_run", {"url": "${DATABASE_URL}",
                                                                 "tables": ["companies", "domain_signals"]})
    assert restored.status is Status.PASS, restored.summary
    assert set(restored.evidence["tables"]) == {"companies", "domain_signals"}
    for result in (created, restored):
        assert pg_password_role.password not in pg_text_of(result)
    # the user may be shown, the password never
    assert created.evidence["source"] == f"postgresql+psycopg://{pg_password_role.name}:***@" \
        f"127.0.0.1:5432/{pg_seeded_database}"


async def test_restore_reports_missing_tables_and_count_drift(
    pg_seeded_database: str, pg_checks: PgCheckHarness
) -> None:
    url = pg_url(pg_seeded_database)
    assert (await pg_checks.outcome("backup.create", {"url": url, "format": "plain"})).status is Status.PASS
    with psycopg.connect(url, autocommit=True) as conn:  # the source moves on after the dump
        conn.execute("INSERT INTO companies (domain) VALUES ('late.example')")
    outcome = await pg_checks.outcome("backup.restore_dry_run",
                                      {"url": url, "tables": ["companies", "domain_signals", "no_such_table"]})
    assert outcome.status is Status.FAIL
    assert f"companies {SEED_COMPANIES} vs {SEED_COMPANIES + 1}" in outcome.summary
    assert "no_such_table" in outcome.summary
    assert outcome.evidence["scratch_dropped"] is True
    assert not pg_database_exists(outcome.evidence["scratch_database"])


# --------------------------------------------------------------------------- integrity failures


async def _dump(pg_checks: PgCheckHarness, dbname: str, fmt: str) -> Path:
    created = await pg_checks.outcome("backup.create", {"url": pg_url(dbname), "format": fmt})
    assert created.status is Status.PASS, created.summary
    return Path(created.outputs["path"])


async def test_truncated_custom_dump_fails_integrity(pg_seeded_database: str, pg_checks: PgCheckHarness) -> None:
    with psycopg.connect(pg_url(pg_seeded_database), autocommit=True) as conn:  # data far bigger than the TOC
        conn.execute("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g")
    path = await _dump(pg_checks, pg_seeded_database, "custom")
    data = path.read_bytes()
    cut_data = path.with_name("cut_data.dump")  # the table of contents is intact, the data is not
    cut_data.write_bytes(data[: len(data) // 2])
    cut_toc = path.with_name("cut_toc.dump")
    cut_toc.write_bytes(data[:1024])

    outcome = await pg_checks.outcome("backup.integrity", {"path": str(cut_data)})
    assert outcome.status is Status.FAIL
    assert "cut_data.dump is truncated or damaged: reading it failed" in outcome.summary
    assert outcome.evidence["toc_entries"] > 0  # `pg_restore --list` alone would have passed it

    outcome = await pg_checks.outcome("backup.integrity", {"path": str(cut_toc)})
    assert outcome.status is Status.FAIL
    assert "cut_toc.dump is truncated or damaged: pg_restore --list failed" in outcome.summary

    assert (await pg_checks.outcome("backup.integrity", {"path": str(path)})).status is Status.PASS


async def test_truncated_plain_dump_fails_integrity(pg_seeded_database: str, pg_checks: PgCheckHarness) -> None:
    path = await _dump(pg_checks, pg_seeded_database, "plain")
    text = path.read_bytes()
    cut = path.with_name("cut.sql")
    cut.write_bytes(text[: len(text) // 2])
    outcome = await pg_checks.outcome("backup.integrity", {"path": str(cut)})
    assert outcome.status is Status.FAIL
    assert "truncated" in outcome.summary and "dump complete" in outcome.summary


async def test_text_files_and_empty_or_missing_files_fail_with_reasons(pg_checks: PgCheckHarness) -> None:
    folder = pg_checks.workdir
    (folder / "notes.sql").write_text("-- just some notes\nSELECT 1;\n")
    (folder / "fake.dump").write_text("this is not an archive\n")
    (folder / "empty.sql").write_bytes(b"")

    not_dump = await pg_checks.outcome("backup.integrity", {"path": "notes.sql"})
    assert not_dump.status is Status.FAIL
    assert 'not a plain pg_dump: "PostgreSQL database dump" is not in its first 20 lines' in not_dump.summary

    fake = await pg_checks.outcome("backup.integrity", {"path": "fake.dump"})
    assert fake.status is Status.FAIL and "does not start with PGDMP" in fake.summary

    empty = await pg_checks.outcome("backup.integrity", {"path": "empty.sql"})
    assert empty.status is Status.FAIL and "empty (0 bytes)" in empty.summary

    missing = await pg_checks.outcome("backup.integrity", {"path": "nope.sql"})
    assert missing.status is Status.FAIL and "does not exist" in missing.summary

    no_prior = await pg_checks.outcome("backup.integrity", {})
    assert no_prior.status is Status.FAIL and "backup.create" in no_prior.summary


async def test_integrity_glob_picks_the_newest_backup(pg_seeded_database: str, pg_checks: PgCheckHarness) -> None:
    path = await _dump(pg_checks, pg_seeded_database, "plain")
    older = path.with_name("backup_pre_v1.0_20000101_000000.sql")
    older.write_text("garbage\n")
    os.utime(older, (1, 1))
    outcome = await pg_checks.outcome("backup.integrity", {"path": "backups/backup_pre_v1.0_*.sql"})
    assert outcome.status is Status.PASS, outcome.summary
    assert outcome.evidence["path"] == str(path)


async def test_bad_url_fails_cleanly(pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("backup.create", {"url": "postgresql://u:SecretPw99@127.0.0.1:1/x?bad=="})
    assert outcome.status is Status.FAIL
    assert "SecretPw99" not in pg_text_of(outcome)


async def test_unreachable_server_fails_without_leaking(pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("backup.create", {"url": "postgresql://u:SecretPw99@127.0.0.1:1/x"})
    assert outcome.status is Status.FAIL and "pg_dump of postgresql://u:***@127.0.0.1:1/x failed" in outcome.summary
    assert "SecretPw99" not in pg_text_of(outcome)
    assert not list((pg_checks.workdir / "backups").iterdir())


# --------------------------------------------------------------------------- timeouts


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(pid))
    return found


async def test_timeout_kills_pg_dump_and_its_server_session(
    pg_seeded_database: str, pg_checks: PgCheckHarness
) -> None:
    url = pg_url(pg_seeded_database)
    pg_checks.workdir = pg_checks.workdir / f"dumps_{secrets.token_hex(4)}"
    locker = await psycopg.AsyncConnection.connect(url)
    query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
             "AND application_name LIKE 'golive_backup_%%'")
    try:
        await locker.execute("LOCK TABLE companies IN ACCESS EXCLUSIVE MODE")  # pg_dump now waits forever
        result = await pg_checks.result("backup.create", {"url": url}, timeout=2)
        assert result.status is Status.FAIL and "timed out after 2s" in result.summary
        assert _processes_mentioning(str(pg_checks.workdir)) == []  # no pg_dump process left
        for _ in range(50):  # its server session, stuck behind the lock, was terminated too
            row = await (await locker.execute(query, (pg_seeded_database,))).fetchone()
            if row and row[0] == 0:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("pg_dump's session is still on the server")
        assert list((pg_checks.workdir / "backups").iterdir()) == []  # no partial file left behind
    finally:
        await locker.rollback()
        await locker.close()


async def test_timeout_during_restore_still_drops_the_scratch_database(
    pg_seeded_database: str, pg_checks: PgCheckHarness
) -> None:
    url = pg_url(pg_seeded_database)
    prefix = f"golive_scratch_t{secrets.token_hex(4)}_"
    assert (await pg_checks.outcome("backup.create", {"url": url})).status is Status.PASS
    seen: set[str] = set()
    locker = await psycopg.AsyncConnection.connect(url)
    try:
        # Counting the source's rows now blocks, after the scratch copy was created and restored.
        await locker.execute("LOCK TABLE domain_signals IN ACCESS EXCLUSIVE MODE")
        run = asyncio.create_task(pg_checks.result("backup.restore_dry_run",
                                                   {"url": url, "scratch_prefix": prefix}, timeout=4))
        while not run.done():
            seen.update(await asyncio.to_thread(pg_databases_like, prefix))
            await asyncio.sleep(0.1)
        result = run.result()
    finally:
        await locker.rollback()
        await locker.close()
    assert result.status is Status.FAIL and "timed out" in result.summary
    assert seen, "the scratch database should have existed while the check ran"
    assert pg_databases_like(prefix) == []
