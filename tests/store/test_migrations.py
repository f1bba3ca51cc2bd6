"""The store's schema is versioned: old databases are upgraded with their rows, concurrent starts take
turns under the migration lock, and a database missing a column is repaired rather than "opening fine"."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bot.store import Store, open_store
from bot.store.db import SQLiteDatabase, open_database
from bot.store.migrate import Migration, SchemaError, columns, current_version, discover, migrate
from checks.loader import parse_checklist
from tests.conftest import PG_URL

FIXTURES = Path(__file__).parent / "fixtures"
LATEST = discover()[-1].version
CHECKLIST = parse_checklist("""
name: fixture
phases:
  - id: day1
    checks:
      - {id: a, kind: env, criticality: critical, params: {var: A}}
""", "fixture.yml")


def assert_v010_rows_intact(store: Store) -> None:
    runs = {r.id: r for r in store.runs(limit=10)}
    assert set(runs) == {"run-v010-1", "run-v010-2"}
    first = runs["run-v010-1"]
    assert first.status == "finished" and first.expected == ["a", "b"] and first.wall_ms == 42.0
    assert first.verdict is not None and first.verdict.decision.value == "go_conditional"
    assert {r.check_id: r.status.value for r in store.results("run-v010-1")} == {"a": "pass", "b": "fail"}
    assert store.message("run-v010-1", "slack").ts == "1.1"  # type: ignore[union-attr]
    assert [a["action"] for a in store.audit_log()] == ["signoff.approve", "signoff.requested"]
    assert store.db.fetchone("SELECT decision, user_id FROM signoffs") == {"decision": "approve", "user_id": "U1"}
    assert store.get("rollout:fixture:phase") == "phase-1"
    assert store.db.fetchone("SELECT action FROM rollout_events") == {"action": "promote"}
    # 0006: results carry their run's checklist, so the indexed latest-result query finds the old rows
    assert {c: r.status.value for c, r in store.latest_results(first.checklist).items()} == {"a": "pass", "b": "fail"}
    # upgraded: stamped with the newest version, the old rows chained, new columns usable
    assert current_version(store.db) == LATEST
    assert store.verify_audit() == (2, None)
    store.audit(actor="U3", action="after.upgrade", subject="x")
    assert store.verify_audit() == (3, None)
    report = store.audit_report()  # the rows from before the key are named as such, the new one is keyed
    assert report.unkeyed == 2 and report.key_ids == [store.audit_keys.current_id]
    run = store.create_run(checklist="fixture", selector="day1", expected=CHECKLIST.all_checks())
    assert store.get_run(run.id).status == "running"  # type: ignore[union-attr]


def test_the_v0_1_0_sqlite_store_upgrades_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "golive.db"
    shutil.copy(FIXTURES / "golive-v0.1.0.db", path)
    store = open_store(None, sqlite_path=path)
    try:
        assert_v010_rows_intact(store)
    finally:
        store.close()
    again = open_store(None, sqlite_path=path)  # a second start applies nothing and keeps everything
    try:
        assert migrate(again.db) == []
        assert len(again.runs(limit=10)) == 3
    finally:
        again.close()


def load_v010_postgres(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
        conn.execute(f'SET search_path TO "{schema}"')  # type: ignore[arg-type]
        conn.execute((FIXTURES / "golive-v0.1.0.postgres.sql").read_text())  # type: ignore[arg-type]


def test_the_v0_1_0_postgres_store_upgrades_with_its_rows(pg_schema: str) -> None:
    load_v010_postgres(pg_schema)
    store = open_store(PG_URL, schema=pg_schema)
    try:
        assert_v010_rows_intact(store)
    finally:
        store.close()


def start_concurrently(n: int, start: Callable[[], None]) -> list[str]:
    barrier = threading.Barrier(n)
    errors: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            start()
        except Exception as exc:  # collected, asserted empty below
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.parametrize("existing", [False, True], ids=["empty-schema", "v0.1.0-schema"])
def test_six_concurrent_starts_on_postgres_all_succeed(pg_schema: str, existing: bool) -> None:
    """Before the migration lock: 'duplicate key ... pg_type_typname_nsp_index' / 'pg_namespace' on an
    empty schema, 'tuple concurrently updated' (CREATE OR REPLACE FUNCTION) on an existing one."""
    if existing:
        load_v010_postgres(pg_schema)

    def start() -> None:
        open_store(PG_URL, schema=pg_schema).close()  # each its own pool, its own connections

    assert start_concurrently(6, start) == []
    store = open_store(PG_URL, schema=pg_schema)
    try:
        versions = [r["version"] for r in store.db.fetchall("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m.version for m in discover()]  # each step applied exactly once
    finally:
        store.close()


def test_six_concurrent_starts_on_sqlite_all_succeed(tmp_path: Path) -> None:
    assert start_concurrently(6, lambda: open_store(None, sqlite_path=tmp_path / "golive.db").close()) == []


def test_a_database_from_before_a_column_is_repaired_not_opened_as_is(tmp_path: Path) -> None:
    """An unversioned store whose `runs` lacks `expected` (and the heartbeat columns): the first insert
    used to fail after a start that 'opened fine'."""
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute("""CREATE TABLE runs (id TEXT PRIMARY KEY, checklist TEXT NOT NULL, selector TEXT NOT NULL,
        requested_by TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT 'cli', status TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT, verdict TEXT, wall_ms REAL)""")
    con.execute("INSERT INTO runs (id, checklist, selector, status, started_at) "
                "VALUES ('old', 'fixture', 'day1', 'finished', '2026-01-01T00:00:00+00:00')")
    con.commit()
    con.close()
    store = open_store(None, sqlite_path=path)
    try:
        assert {"expected", "owner", "heartbeat_at"} <= set(columns(store.db, "runs"))
        run = store.create_run(checklist="fixture", selector="day1", expected=CHECKLIST.all_checks())
        assert store.get_run(run.id).expected == ["a"]  # type: ignore[union-attr]
        assert store.get_run("old").expected == []  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_new_step_adds_its_column_to_a_stamped_database(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "golive.db")
    try:
        assert migrate(db) == [m.version for m in discover()]

        def add_note(tx) -> None:  # type: ignore[no-untyped-def]
            tx.execute("ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT ''")

        steps = [*discover(), Migration(LATEST + 1, "run_note", add_note)]
        assert migrate(db, steps) == [LATEST + 1]
        assert "note" in columns(db, "runs")
        assert migrate(db, steps) == []
    finally:
        db.close()


def test_a_step_that_fails_leaves_the_version_unchanged(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "golive.db")
    try:
        migrate(db)

        def broken(tx) -> None:  # type: ignore[no-untyped-def]
            tx.execute("ALTER TABLE runs ADD COLUMN half TEXT")
            tx.execute("THIS IS NOT SQL")

        with pytest.raises(sqlite3.OperationalError):
            migrate(db, [*discover(), Migration(LATEST + 1, "broken", broken)])
        assert current_version(db) == LATEST and "half" not in columns(db, "runs")
    finally:
        db.close()


def test_a_newer_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'golive.db'}")
    try:
        migrate(db)
        db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'now')")
        with pytest.raises(SchemaError, match=r"version 999, newer than this golive knows.*upgrade golive"):
            migrate(db)
    finally:
        db.close()


def test_two_steps_with_one_number_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / f"steps_{uuid.uuid4().hex[:6]}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("0001_one", "0002_mine", "0002_theirs"):
        (pkg / f"{name}.py").write_text("def upgrade(db):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SchemaError, match="two store migrations are numbered 0002"):
        discover(pkg.name)


def test_0007_renames_the_legacy_final_state_keys_so_a_finished_message_stays_finished(tmp_path: Path) -> None:
    """The keys Slack and Teams used for "this run's message is final" before the conversation layer are
    renamed to the one key it reads; other keys are left alone, and a key already renamed wins."""
    store = open_store(sqlite_path=tmp_path / "golive.db")
    db = store.db
    for key, value in [("slack:run-final:r1", True), ("teams:run:r2:final", True), ("teams:run:r3:final", True),
                       ("run-final:teams:r3", "newer"), ("slack:other:r1", 1)]:
        store.put(key, value)
    [step] = [m for m in discover() if m.version == 7]
    with db.migration_lock() as tx:
        step.upgrade(tx)
    keys = {r["key"]: r["value"] for r in db.fetchall("SELECT key, value FROM kv")}
    assert store.get("run-final:slack:r1") is True and store.get("run-final:teams:r2") is True
    assert store.get("run-final:teams:r3") == "newer"
    assert store.get("slack:other:r1") == 1
    assert not [k for k in keys if k.startswith("slack:run-final:") or k.endswith(":final")]
