"""The audit log is tamper-evident: a hash chain `golive audit verify` walks, REPLACE refused in SQLite,
and PostgreSQL grants under which the bot can append but not rewrite."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.store import Store, open_store
from bot.store.db import SQLiteDatabase
from bot.store.migrate import Migration, SchemaError, discover, migrate
from tests.conftest import PG_URL


def fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        store.audit(actor=f"U{i}", action="signoff.approve", subject="req1", detail={"role": f"r{i}"})


def tamper(store: Store, sql: str) -> None:
    """What someone with the owner's rights (or the SQLite file) can do: switch the guard off, rewrite."""
    if store.db.dialect == "sqlite":
        with store.db.transaction() as tx:
            tx.execute("DROP TRIGGER audit_no_update")
            tx.execute("DROP TRIGGER audit_no_delete")
            tx.execute(sql)
    else:
        with store.db.transaction() as tx:
            tx.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
            tx.execute(sql)
            tx.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")


def test_an_intact_chain_verifies(store: Store) -> None:
    fill(store)
    assert store.verify_audit() == (5, None)


def test_verify_names_an_edited_row(store: Store) -> None:
    fill(store)
    seq = store.db.fetchall("SELECT seq FROM audit ORDER BY seq")[2]["seq"]
    tamper(store, f"UPDATE audit SET actor = 'U-mallory' WHERE seq = {seq}")
    count, broken = store.verify_audit()
    assert broken is not None and broken.seq == seq and "edited" in broken.reason and count == 3


def test_verify_names_the_row_after_a_deleted_one(store: Store) -> None:
    fill(store)
    seqs = [r["seq"] for r in store.db.fetchall("SELECT seq FROM audit ORDER BY seq")]
    tamper(store, f"DELETE FROM audit WHERE seq = {seqs[1]}")
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == seqs[2] and f"does not follow row {seqs[0]}" in broken.reason


def test_rewriting_a_row_with_a_recomputed_hash_breaks_at_that_row(store: Store) -> None:
    """Reproduced: with the sha256 chain, an edit with a recomputed hash broke only at the next row, and
    rewriting every later hash passed. A keyed row cannot be recomputed without the key."""
    from bot.store.audit import row_hash

    fill(store, 3)
    rows = store.db.fetchall("SELECT * FROM audit ORDER BY seq")
    forged = {**rows[1], "actor": "U-mallory"}
    tamper(store, f"UPDATE audit SET actor = 'U-mallory', hash = '{row_hash(rows[1]['prev_hash'], forged)}' "
                  f"WHERE seq = {rows[1]['seq']}")
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == rows[1]["seq"] and "HMAC" in broken.reason


def test_postgres_refuses_truncate_even_for_the_owner(pg_schema: str) -> None:
    s = open_store(PG_URL, schema=pg_schema)
    try:
        fill(s, 2)
        with pytest.raises(psycopg.Error, match="append-only"):
            s.db.execute("TRUNCATE audit")
        assert s.verify_audit() == (2, None)
    finally:
        s.close()


def test_concurrent_writers_keep_one_chain(store: Store) -> None:
    threads = [threading.Thread(target=fill, args=(store, 3)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.verify_audit() == (24, None)


def test_sqlite_refuses_insert_or_replace_over_a_row(tmp_path: Path) -> None:
    """Reproduced on the v0.1.0 schema (step 0001 alone): REPLACE silently overwrote row 1."""
    old = SQLiteDatabase(tmp_path / "old.db")
    migrate(old, discover()[:1])
    Store(old).db.execute("INSERT INTO audit (at, actor, action, subject) VALUES ('t', 'U1', 'real', 's')")
    old.execute("INSERT OR REPLACE INTO audit (seq, at, actor, action, subject) VALUES (1, 't', 'U9', 'forged', 's')")
    assert old.fetchone("SELECT action FROM audit WHERE seq = 1") == {"action": "forged"}
    old.close()

    s = open_store(None, sqlite_path=tmp_path / "golive.db")
    try:
        s.audit(actor="U1", action="real", subject="s")
        with pytest.raises(sqlite3.IntegrityError, match="cannot be replaced"):
            s.db.execute("INSERT OR REPLACE INTO audit (seq, at, actor, action, subject) "
                         "VALUES (1, 't', 'U9', 'forged', 's')")
        assert s.db.fetchone("SELECT action FROM audit WHERE seq = 1") == {"action": "real"}
        assert s.verify_audit() == (1, None)
    finally:
        s.close()


def test_golive_audit_verify_exits_0_then_1_naming_the_row(tmp_path: Path, isolated_env: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    s = open_store(None, sqlite_path=tmp_path / "state" / "golive.db")
    fill(s, 4)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 4 row(s)" in capsys.readouterr().out
    tamper(s, "UPDATE audit SET detail = '{\"role\": \"forged\"}' WHERE seq = 3")
    s.close()
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "broken at audit row 3" in err and "edited" in err


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    owner, bot = f"golive_owner_{tag}", f"golive_bot_{tag}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")  # type: ignore[arg-type]
        conn.execute(f"CREATE ROLE {bot} LOGIN")  # type: ignore[arg-type]
        database = PG_URL.rsplit("/", 1)[1].split("?", 1)[0]  # the tests' database, whatever GOLIVE_TEST_PG_URL names
        conn.execute(f'GRANT CREATE ON DATABASE "{database}" TO {owner}')  # type: ignore[arg-type]
    yield owner, bot
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for role in (bot, owner):
            conn.execute(f"DROP OWNED BY {role} CASCADE")  # type: ignore[arg-type]
            conn.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


def as_role(role: str) -> str:
    return PG_URL.replace("postgres@", f"{role}@", 1)


def test_postgres_grants_let_the_bot_append_but_not_rewrite(roles: tuple[str, str]) -> None:
    """The README's grants, applied: the owner role migrates, the bot role writes everything it needs,
    and cannot UPDATE, DELETE, TRUNCATE or disable the audit triggers."""
    owner, bot = roles
    schema = f"golive_g_{uuid.uuid4().hex[:8]}"
    open_store(as_role(owner), schema=schema).close()  # the owner creates the schema and migrates it
    grants = (Path(__file__).parents[2] / "README.md").read_text().split("<!-- audit-grants -->")[1]
    sql = grants.split("```sql")[1].split("```")[0].replace("golive_bot", bot).replace("golive_owner", owner) \
        .replace("SCHEMA golive ", f"SCHEMA {schema} ").replace("golive.audit", f"{schema}.audit")
    sql = "\n".join(line.split("--")[0] for line in sql.splitlines())
    with psycopg.connect(as_role(owner), autocommit=True) as conn:
        for stmt in (s.strip() for s in sql.split(";")):
            if stmt and not stmt.startswith(("CREATE ROLE", "CREATE SCHEMA")):  # done above, names of our own
                conn.execute(stmt)  # type: ignore[arg-type]
    store = open_store(as_role(bot), schema=schema)
    try:
        run = store.create_run(checklist="c", selector="all")
        store.put("k", 1)
        store.put("k", 2)
        store.audit(actor="U1", action="signoff.approve", subject="r")
        store.audit(actor="U2", action="signoff.approve", subject="r")
        assert store.get_run(run.id) is not None and store.verify_audit() == (2, None)
        for attack in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit", "TRUNCATE audit",
                       "ALTER TABLE audit DISABLE TRIGGER audit_append_only", "DROP TABLE audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                store.db.execute(attack)
        assert store.verify_audit() == (2, None)
        # what the insert-only role *can* do: append a row with a valid sha256 hash; the keyed chain refuses it
        from bot.store.audit import row_hash

        last = store.db.fetchone("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        assert last is not None
        forged = {"at": "2026-12-07T00:00:00+00:00", "actor": "U-mallory", "action": "signoff.approve",
                  "subject": "r", "detail": "{}"}
        store.db.execute("INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash) VALUES "
                         "(:at, :actor, :action, :subject, :detail, :p, :h)",
                         {**forged, "p": last["hash"], "h": row_hash(last["hash"], forged)})
        count, broken = store.verify_audit()
        assert count == 3 and broken is not None and broken.seq == last["seq"] + 1 and "unkeyed" in broken.reason
        # an upgrade the bot role cannot apply says who can, instead of a permission traceback
        step = Migration(discover()[-1].version + 1, "future", lambda tx: tx.execute("ALTER TABLE runs ADD x TEXT"))
        with pytest.raises(SchemaError, match="start golive once with the owner role"):
            migrate(store.db, [*discover(), step])
    finally:
        store.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
