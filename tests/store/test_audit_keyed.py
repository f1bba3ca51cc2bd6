"""The audit chain is keyed (issue 19, Done-when 2 and 3): whoever owns the database, and can drop its
triggers, still cannot edit, reorder, append or recompute a row that `golive audit verify` accepts, and
deleting the newest rows is caught by the witnessed heads kept outside the database."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.store import Store, open_store
from bot.store.audit import ROTATION, row_hash, row_mac
from bot.store.auditkey import AuditKeyError, key_id, load_keys
from bot.store.db import SQLiteDatabase
from bot.store.migrate import discover, migrate
from tests.conftest import PG_URL

KEY = "k" * 32
OTHER = "o" * 32


def keys(*values: str):  # type: ignore[no-untyped-def]
    return load_keys(env_key=",".join(values), key_file=None, state_dir="/nonexistent")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(None, sqlite_path=tmp_path / "golive.db", audit_keys=keys(KEY))
    else:
        s = open_store(PG_URL, schema=request.getfixturevalue("pg_schema"), audit_keys=keys(KEY))
    yield s
    s.close()


def fill(store: Store, n: int) -> None:
    for i in range(n):
        store.audit(actor=f"U{i}", action="rollout.promoted", subject=f"phase-{i}", detail={"i": i})


def as_owner(store: Store, *statements: str) -> None:
    """What the database owner can do: drop the append-only triggers, then write anything."""
    with store.db.transaction() as tx:
        if tx.dialect == "sqlite":
            for name in ("audit_no_update", "audit_no_delete", "audit_no_replace"):
                tx.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            tx.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
            tx.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
            tx.execute("DROP INDEX IF EXISTS audit_chain")
        for sql in statements:
            tx.execute(sql)


def rows(store: Store) -> list[dict]:
    return store.db.fetchall("SELECT * FROM audit ORDER BY seq")


def test_an_edit_with_a_recomputed_sha256_hash_fails_at_that_row(store: Store) -> None:
    fill(store, 4)
    row = rows(store)[1]
    forged = {**row, "actor": "U-mallory"}
    as_owner(store, f"UPDATE audit SET actor = 'U-mallory', hash = '{row_hash(row['prev_hash'], forged)}' "
                    f"WHERE seq = {row['seq']}")
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == row["seq"] and "HMAC does not match" in broken.reason


def test_rewriting_the_whole_tail_with_a_guessed_key_fails_at_the_first_rewritten_row(store: Store) -> None:
    fill(store, 4)
    old = rows(store)
    prev = old[1]["hash"]
    statements = []
    for row in old[2:]:
        forged = {**row, "actor": "U-mallory"}
        mac = row_mac(OTHER.encode(), row["key_id"], prev, forged)  # the right key id, the wrong key
        statements.append(f"UPDATE audit SET actor = 'U-mallory', prev_hash = '{prev}', hash = '{mac}' "
                          f"WHERE seq = {row['seq']}")
        prev = mac
    as_owner(store, *statements)
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == old[2]["seq"]


def test_reordering_two_rows_is_caught(store: Store) -> None:
    fill(store, 4)
    a, b = rows(store)[1:3]
    as_owner(store, *(f"UPDATE audit SET at = '{x['at']}', actor = '{x['actor']}', subject = '{x['subject']}', "
                      f"detail = '{x['detail']}' WHERE seq = {y['seq']}" for x, y in ((a, b), (b, a))))
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == a["seq"]


@pytest.mark.parametrize("forge", ["unkeyed sha256", "made-up key id"])
def test_a_forged_append_is_caught(store: Store, forge: str) -> None:
    fill(store, 3)
    last = rows(store)[-1]
    row = {"at": last["at"], "actor": "U-mallory", "action": "rollout.promoted", "subject": "phase-9",
           "detail": "{}"}
    if forge == "unkeyed sha256":
        digest, kid = row_hash(last["hash"], row), ""
    else:
        digest, kid = row_mac(OTHER.encode(), key_id(OTHER.encode()), last["hash"], row), key_id(OTHER.encode())
    store.db.execute("INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash, key_id) VALUES "
                     "(:at, :actor, :action, :subject, :detail, :p, :h, :k)", {**row, "p": last["hash"], "h": digest,
                                                                                "k": kid})
    count, broken = store.verify_audit()
    assert broken is not None and count == 4 and broken.seq == last["seq"] + 1


def test_key_rotation_is_a_row_and_old_rows_need_the_old_key(store: Store) -> None:
    fill(store, 2)
    store._audit_keys = keys(KEY, OTHER)  # OTHER signs from now on; KEY stays for verifying
    fill(store, 1)
    actions = [r["action"] for r in rows(store)]
    assert actions[2] == ROTATION and json.loads(rows(store)[2]["detail"]) == {"from": key_id(KEY.encode()),
                                                                              "to": key_id(OTHER.encode())}
    assert store.verify_audit() == (4, None)
    store._audit_keys = keys(OTHER)  # the old key is gone: its rows can no longer be vouched for
    _, broken = store.verify_audit()
    assert broken is not None and broken.seq == rows(store)[0]["seq"] and "not configured" in broken.reason


def test_rows_from_before_the_key_are_reported_and_sealed(tmp_path: Path) -> None:
    """A chain of 0002 (sha256) is upgraded by 0005: its rows stay, named unkeyed; the first keyed row
    signs the last unkeyed hash, so rewriting the old rows afterwards is caught."""
    db = SQLiteDatabase(tmp_path / "golive.db")
    migrate(db, [m for m in discover() if m.version < 5])
    prev = ""
    for i in range(3):
        row = {"at": f"2026-01-0{i + 1}T00:00:00+00:00", "actor": "U1", "action": "old", "subject": "s",
               "detail": "{}"}
        digest = row_hash(prev, row)
        db.execute("INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash) VALUES "
                   "(:at, :actor, :action, :subject, :detail, :p, :h)", {**row, "p": prev, "h": digest})
        prev = digest
    db.close()
    store = open_store(None, sqlite_path=tmp_path / "golive.db", audit_keys=keys(KEY))
    try:
        fill(store, 2)
        report = store.audit_report()
        assert report.broken is None and report.count == 5 and report.unkeyed == 3
        assert report.unkeyed_until.startswith("2026-01-03")
        old = rows(store)[1]
        forged = {**old, "actor": "U-mallory"}
        digest = row_hash(old["prev_hash"], forged)
        third = {**rows(store)[2], "prev_hash": digest}
        as_owner(store, f"UPDATE audit SET actor = 'U-mallory', hash = '{digest}' WHERE seq = {old['seq']}",
                 f"UPDATE audit SET prev_hash = '{digest}', hash = '{row_hash(digest, third)}' WHERE seq = 3")
        _, broken = store.verify_audit()
        assert broken is not None and broken.seq == 4  # the first keyed row no longer follows
    finally:
        store.close()


def test_without_a_configured_key_golive_generates_one_private_to_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    generated = load_keys(env_key=None, key_file=None, state_dir=state)
    path = state / "audit.key"
    assert generated.generated and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(env_key=None, key_file=None, state_dir=state).current == generated.current  # reused
    with pytest.raises(AuditKeyError, match="no audit key"):
        load_keys(env_key=None, key_file=None, state_dir=tmp_path / "elsewhere", generate=False)
    os.chmod(path, 0o666)
    with pytest.raises(AuditKeyError, match="writable by others"):
        load_keys(env_key=None, key_file=None, state_dir=state)
    with pytest.raises(AuditKeyError, match="at least 16"):
        load_keys(env_key="short", key_file=None, state_dir=state)


# ------------------------------------------------------------------------------ golive audit verify, end to end
def cli_store(tmp_path: Path) -> Store:
    return open_store(None, sqlite_path=tmp_path / "state" / "golive.db")


def test_audit_verify_reports_keys_and_detects_deleted_newest_rows_through_the_witness(
        tmp_path: Path, isolated_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.authority.witness import witness

    s = cli_store(tmp_path)
    fill(s, 5)
    head = asyncio.run(witness(s, None, "test"))
    assert head.count == 5
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "5 row(s) keyed" in out and "1 witnessed head(s)" in out
    as_owner(s, f"DELETE FROM audit WHERE seq > {head.seq - 2}")  # the newest two rows, as the owner
    s.close()
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"audit row {head.seq}" in err and "newest rows were deleted" in err


def test_audit_verify_refuses_an_edited_witness_file(tmp_path: Path, isolated_env: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.authority.witness import witness, witness_path

    s = cli_store(tmp_path)
    fill(s, 3)
    asyncio.run(witness(s, None, "test"))
    s.close()
    path = witness_path()
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "count": 2, "seq": 2}) + "\n")  # made to match a truncated log
    assert main(["audit", "verify"]) == 1
    assert "witness file" in capsys.readouterr().err


def test_audit_verify_without_any_key_is_a_usage_error(tmp_path: Path, isolated_env: None,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 2
    assert "no audit key" in capsys.readouterr().err


# ------------------------------------------------------------- PostgreSQL: the owner, and the insert-only bot role
@pytest.fixture
def owner_schema() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    owner, schema = f"golive_own_{tag}", f"golive_k_{tag}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")  # type: ignore[arg-type]
        database = PG_URL.rsplit("/", 1)[1].split("?", 1)[0]  # the tests' database, whatever GOLIVE_TEST_PG_URL names
        conn.execute(f'GRANT CREATE ON DATABASE "{database}" TO {owner}')  # type: ignore[arg-type]
    yield owner, schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
        conn.execute(f"DROP OWNED BY {owner} CASCADE")  # type: ignore[arg-type]
        conn.execute(f"DROP ROLE {owner}")  # type: ignore[arg-type]


def test_postgres_table_owner_drops_triggers_edits_and_recomputes_and_verify_still_fails(
        owner_schema: tuple[str, str]) -> None:
    """The tester's attack from the issue, as the role that owns the table (not a superuser)."""
    owner, schema = owner_schema
    url = PG_URL.replace("postgres@", f"{owner}@", 1)
    s = open_store(url, schema=schema, audit_keys=keys(KEY))
    try:
        fill(s, 4)
        target = rows(s)[2]
        forged = {**target, "actor": "U-mallory"}
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')  # type: ignore[arg-type]
            conn.execute("DROP TRIGGER audit_append_only ON audit")
            conn.execute("UPDATE audit SET actor = 'U-mallory', hash = %s WHERE seq = %s",
                         (row_hash(target["prev_hash"], forged), target["seq"]))
        _, broken = s.verify_audit()
        assert broken is not None and broken.seq == target["seq"]
    finally:
        s.close()


# ------------------------------------------------------------------ the witness in the release channel (Slack stand-in)
async def test_heads_posted_in_slack_are_read_back_so_truncating_log_and_witness_file_is_still_caught(
        tmp_path: Path, isolated_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from bot.announcements.events import FanoutNotifier
    from bot.authority.witness import witness, witness_path
    from bot.slack.client import build_web_client
    from bot.slack.notifier import SlackNotifier
    from bot.slack.poster import SlackPoster
    from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub

    stub = await SlackStub().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("GOLIVE_SLACK_CHANNEL", CHANNEL)
        monkeypatch.setenv("GOLIVE_SLACK_API_URL", stub.api_url)
        s = cli_store(tmp_path)
        fill(s, 4)
        notifier = FanoutNotifier([SlackNotifier(SlackPoster(build_web_client(BOT_TOKEN, stub.api_url), s), CHANNEL)])
        head = await witness(s, notifier, "promoted phase-1 by U1")
        [posted] = stub.of("chat.postMessage")
        assert f"rows=4 seq={head.seq}" in posted.payload["text"] and head.posted[0]["ts"] == posted.payload["ts"]
        stub.calls.append(type(posted)("chat.postMessage", {"channel": CHANNEL, "ts": "1.0", "text":
                                       head.text().replace(head.mac, "0" * 64)}))  # a made-up head: ignored

        assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
        # the owner deletes the newest rows *and* empties the local witness file
        as_owner(s, f"DELETE FROM audit WHERE seq >= {head.seq}")
        s.close()
        witness_path().write_text("")
        assert await asyncio.to_thread(main, ["audit", "verify", "--no-channel"]) == 0  # the file alone: fooled
        assert await asyncio.to_thread(main, ["audit", "verify"]) == 1  # the channel's copy: caught
    finally:
        await stub.close()


def test_a_channel_that_cannot_be_read_back_is_noted_not_fatal(tmp_path: Path, isolated_env: None,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unreachable")
    monkeypatch.setenv("GOLIVE_SLACK_CHANNEL", "C0RELEASE")
    monkeypatch.setenv("GOLIVE_SLACK_API_URL", "http://127.0.0.1:9/api/")
    s = cli_store(tmp_path)
    fill(s, 2)
    s.close()
    assert main(["audit", "verify"]) == 0
    assert "could not read the Slack channel back" in capsys.readouterr().err
