"""Migration 0008 makes the data of a single-checklist install the default service's: the v0.1.0 fixtures and
a store as the previous version (0007) leaves it upgrade with every row of every table intact, each row
of per-service state keyed `default`, and nothing of it visible to another service."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.authority.breakglass import unacknowledged
from bot.policy.freeze import FreezeService
from bot.policy.waivers import WaiverService
from bot.rollout.records import RolloutRecords
from bot.services.registry import DEFAULT_KEY
from bot.signoff.service import SignoffService
from bot.store import DEFAULT_SERVICE, Store
from bot.store.db import Database, open_database
from bot.store.migrate import columns, current_version, discover, migrate
from checks.loader import parse_checklist
from tests.conftest import PG_URL
from tests.store.test_migrations import FIXTURES, load_v010_postgres

KEYED = ("runs", "results", "signoff_requests", "waivers", "freezes", "rollout_events", "rollout_incidents",
         "break_glass")
CHECKLIST = parse_checklist("""
name: fixture
phases:
  - id: day1
    checks:
      - {id: a, kind: env, criticality: critical, params: {var: A}}
      - {id: b, kind: env, criticality: high, waivable: true, params: {var: B}}
""", "fixture.yml")


def tables(db: Database) -> list[str]:
    if db.dialect == "sqlite":
        rows = db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    else:
        rows = db.fetchall("SELECT table_name AS name FROM information_schema.tables "
                           "WHERE table_schema = current_schema()")
    return sorted(r["name"] for r in rows if r["name"] != "schema_migrations")


def row_counts(db: Database) -> dict[str, int]:
    return {t: int(db.fetchone(f"SELECT count(*) AS n FROM {t}")["n"]) for t in tables(db)}  # type: ignore[index]  # count(*) always answers


Snapshot = dict[str, tuple[list[str], list[tuple[str, ...]]]]


def snapshot(db: Database, of: Snapshot | None = None) -> Snapshot:
    """Every row of every table as text (of the tables and columns in `of`, when given): what must survive."""
    out = {}
    for table in tables(db) if of is None else list(of):
        names = columns(db, table) if of is None else of[table][0]
        rows = db.fetchall(f"SELECT {', '.join(names)} FROM {table}")
        out[table] = (names, sorted(tuple(str(r[c]) for c in names) for r in rows))
    return out


def assert_upgraded_as_the_default_service(db: Database, before: Snapshot) -> None:
    assert current_version(db) == discover()[-1].version
    after = snapshot(db, before)
    assert {t: len(rows) for t, (_, rows) in after.items()} == {t: len(rows) for t, (_, rows) in before.items()}
    assert after == before  # not one row changed, let alone lost
    for table in KEYED:
        if table in tables(db):
            services = {r["service"] for r in db.fetchall(f"SELECT service FROM {table}")}
            assert services <= {DEFAULT_SERVICE}, (table, services)
            if table in before and before[table][1]:
                assert services == {DEFAULT_SERVICE}, table


def test_the_store_key_of_the_default_service_is_the_registrys() -> None:
    assert DEFAULT_SERVICE == DEFAULT_KEY


def test_v0_1_0_sqlite_upgrades_through_0008_with_every_row_the_default_services(tmp_path: Path) -> None:
    path = tmp_path / "golive.db"
    shutil.copy(FIXTURES / "golive-v0.1.0.db", path)
    con = sqlite3.connect(path)
    counted = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # before golive touched it
               for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                       "'sqlite_%'").fetchall()}
    con.close()
    db = open_database(None, sqlite_path=path)
    try:
        before = snapshot(db)
        migrate(db)
        assert_upgraded_as_the_default_service(db, before)
        assert {t: n for t, n in row_counts(db).items() if t in counted} == counted
        assert sum(counted.values()) >= 10  # the fixture holds rows in runs, results, audit, sign-offs, kv, ...
        assert_default_view_sees_it_another_does_not(Store(db))
    finally:
        db.close()


def test_v0_1_0_postgres_upgrades_through_0008_with_every_row_the_default_services(pg_schema: str) -> None:
    load_v010_postgres(pg_schema)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{pg_schema}"')  # type: ignore[arg-type]
        names = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = current_schema()").fetchall()]
        counted = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in names}  # type: ignore[index]  # count(*) always answers
    db = open_database(PG_URL, schema=pg_schema)
    try:
        before = snapshot(db)
        migrate(db)
        assert_upgraded_as_the_default_service(db, before)
        assert {t: n for t, n in row_counts(db).items() if t in counted} == counted
        assert_default_view_sees_it_another_does_not(Store(db))
    finally:
        db.close()


def assert_default_view_sees_it_another_does_not(store: Store) -> None:
    other = store.for_service("hunter")
    assert {r.id for r in store.runs(limit=10)} == {"run-v010-1", "run-v010-2"} and other.runs(limit=10) == []
    assert set(store.latest_results("fixture")) == {"a", "b"} and other.latest_results("fixture") == {}
    assert store.get("rollout:fixture:phase") == "phase-1" and other.get("rollout:fixture:phase") is None
    assert SignoffService(store, CHECKLIST).state().approved == {"pre:tech_lead": "U1"}
    assert SignoffService(other, CHECKLIST).state().approved == {}
    assert [e["action"] for e in RolloutRecords(store, "fixture").events()] == ["promote"]
    assert RolloutRecords(other, "fixture").events() == []
    assert store.verify_audit()[1] is None


# -- a store as the previous version (0007) leaves it, every table holding rows -------------------------
def fill_0007(store: Store) -> None:
    """Rows in every table, written as 0007's code wrote them (raw SQL: no `service` column yet)."""
    db, now = store.db, datetime.now(UTC)
    at, later = now.isoformat(), (now + timedelta(days=1)).isoformat()
    db.execute("INSERT INTO runs (id, checklist, selector, status, started_at, expected, owner, heartbeat_at) "
               "VALUES ('r1', 'fixture', 'day1', 'finished', :at, '[\"a\"]', 'me', :at)", {"at": at})
    db.execute("INSERT INTO results (run_id, check_id, kind, criticality, status, summary, started_at, finished_at, "
               "checklist) VALUES ('r1', 'a', 'env', 'critical', 'pass', 'ok', :at, :at, 'fixture')", {"at": at})
    db.execute("INSERT INTO results (run_id, check_id, kind, criticality, status, summary, started_at, finished_at, "
               "checklist) VALUES ('r1', 'b', 'env', 'high', 'fail', 'no', :at, :at, 'fixture')", {"at": at})
    store.remember_message(subject="r1", transport="slack", purpose="parent", channel="C1", ts="1.1")
    db.execute("INSERT INTO signoff_requests (id, stage, checklist, run_id, created_at) "
               "VALUES ('q1', 'pre', 'fixture', 'r1', :at)", {"at": at})
    db.execute("INSERT INTO signoffs (request_id, role, decision, user_id, decided_at) "
               "VALUES ('q1', 'tech_lead', 'approve', 'U1', :at)", {"at": at})
    db.execute("INSERT INTO waivers (id, checklist, check_id, granted_by, reason, granted_at, until_at) "
               "VALUES ('w1', 'fixture', 'b', 'U1', 'known', :at, :later)", {"at": at, "later": later})
    db.execute("INSERT INTO freezes (id, checklist, kind, starts_at, until_at, reason, created_by, created_at) "
               "VALUES ('f1', 'fixture', 'adhoc', :at, :later, 'close', 'U1', :at)", {"at": at, "later": later})
    db.execute("INSERT INTO rollout_events (checklist, action, phase, actor, ok, at) "
               "VALUES ('fixture', 'promote', 'phase-1', 'U1', 1, :at)", {"at": at})
    db.execute("INSERT INTO rollout_incidents (id, checklist, level, phase, rules, message, opened_at) "
               "VALUES ('i1', 'fixture', 'P0', 'phase-1', 'errors', 'down', :at)", {"at": at})
    db.execute("INSERT INTO break_glass (id, checklist, verb, os_user, host, reason, at) "
               "VALUES ('g1', 'fixture', 'promote', 'ops', 'h1', 'chat down', :at)", {"at": at})
    store.put("rollout:fixture:phase", "phase-1")
    store.audit(actor="U1", action="signoff.approve", subject="q1")


@pytest.fixture(params=["sqlite", "postgres"])
def db_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = open_database(None, sqlite_path=tmp_path / "golive.db")
    else:
        db = open_database(PG_URL, schema=request.getfixturevalue("pg_schema"))
    migrate(db, [m for m in discover() if m.version <= 7])
    yield db
    db.close()


def test_a_0007_store_with_rows_in_every_table_upgrades_with_every_row_the_default_services(
        db_0007: Database) -> None:
    assert current_version(db_0007) == 7
    fill_0007(Store(db_0007))
    before = snapshot(db_0007)
    assert all(rows for _, rows in before.values()), {t: len(r) for t, (_, r) in before.items()}  # none empty
    assert migrate(db_0007) == [8]
    assert_upgraded_as_the_default_service(db_0007, before)
    store, other = Store(db_0007), Store(db_0007).for_service("hunter")
    now = datetime.now(UTC)
    assert [w.id for w in WaiverService(store, CHECKLIST).active(now)] == ["w1"]
    assert WaiverService(other, CHECKLIST).active(now) == []
    assert [f.key for f in FreezeService(store, CHECKLIST).active(now)] == ["adhoc:f1"]
    assert FreezeService(other, CHECKLIST).active(now) == []
    assert [i["id"] for i in RolloutRecords(store, "fixture").open_incidents()] == ["i1"]
    assert RolloutRecords(other, "fixture").open_incidents() == []
    assert [b.id for b in unacknowledged(store, "fixture")] == ["g1"] and unacknowledged(other, "fixture") == []
    assert store.verify_audit() == (1, None)
