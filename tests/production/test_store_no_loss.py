"""No silent loss: a result is either stored or the run says it is incomplete (exit 3, never GO), and
no run stays 'running' once its owner is gone. PostgreSQL here is a server this test owns and stops;
the full disk and the read-only state dir are small tmpfs mounts of the test's own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.runs.durable import Durability, RunIncomplete, reap
from bot.runs.service import execute_run
from bot.serving.server import Health
from bot.store import Store, StoreUnavailable, open_store
from checks.loader import load_checklist
from tests.production.servers import PostgresServer
from tests.production.test_store_outage import fresh_database

FAST = Durability(retries=2, backoff=0.05, hold_seconds=15.0, heartbeat=0.1, heartbeat_ttl=0.5)


def write_checklist(path: Path, sleeps: list[float]) -> Path:
    """Five command checks finishing one after another, so the store can go away between two of them."""
    checks = "\n".join(
        f"      - {{id: c{i}, kind: command, criticality: critical, timeout: 30, "
        f"params: {{command: [sleep, '{s}'], pass_target_env: false}}}}" for i, s in enumerate(sleeps, 1))
    path.write_text(f"name: noloss\ntarget: {{base_url: 'http://127.0.0.1:9'}}\nphases:\n  - id: day1\n"
                    f"    checks:\n{checks}\n", encoding="utf-8")
    return path


def stop_after_first_result(server: PostgresServer, url: str) -> threading.Thread:
    """Stop PostgreSQL as soon as the run has stored one result (not after a fixed delay: a loaded
    machine may still be opening the store then)."""
    import psycopg

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    if conn.execute("SELECT count(*) FROM results").fetchone()[0] >= 1:  # type: ignore[index]
                        break
            except psycopg.Error:
                pass
            time.sleep(0.05)
        server.stop()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def at(seconds: float, action) -> threading.Timer:  # type: ignore[no-untyped-def]
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_postgres_stops_mid_run_and_comes_back_no_result_is_lost(pg_server: PostgresServer, tmp_path: Path) -> None:
    """Reproduced on v0.1.0 with exactly this timing: the runner swallowed the failed writes, the run
    finished GO, and the store held 3 of the 5 results. The outage outlasts the pool's 5 s wait."""
    url = fresh_database(pg_server)
    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [0.1, 1.0, 2.0, 7.0, 9.5]))
    store = open_store(url)
    try:
        stop = at(0.6, pg_server.stop)  # c1 is stored; c2..c4 land while PostgreSQL is gone
        start = at(7.6, pg_server.start)
        outcome = asyncio.run(execute_run(store, checklist, "day1", durability=FAST))
        stop.join()
        start.join()
        assert outcome.run.status == "finished" and outcome.report.verdict.decision.value == "go"
        assert sorted(r.check_id for r in store.results(outcome.run.id)) == ["c1", "c2", "c3", "c4", "c5"]
    finally:
        store.close()


def test_postgres_never_comes_back_the_run_is_incomplete_exit_3_then_reaped(
        pg_server: PostgresServer, tmp_path: Path, isolated_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_database(pg_server)
    path = write_checklist(tmp_path / "c.yml", [0.1, 1.5, 1.5, 1.5, 1.5])
    for name, value in {"GOLIVE_DATABASE_URL": url, "GOLIVE_STORE_RETRIES": "2", "GOLIVE_STORE_BACKOFF": "0.05",
                        "GOLIVE_STORE_HOLD_SECONDS": "1", "GOLIVE_HEARTBEAT_SECONDS": "0.1",
                        "GOLIVE_HEARTBEAT_TTL_SECONDS": "0.5", "GOLIVE_STORE_TIMEOUT": "1"}.items():
        monkeypatch.setenv(name, value)
    stop = stop_after_first_result(pg_server, url)
    started = time.monotonic()
    code = main(["run", "day1", "--checklist", str(path)])
    stop.join()
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    assert "could not decide" in err and "is incomplete" in err and "decides nothing (not GO)" in err, err
    assert "Traceback" not in err and "GO" not in out
    print(f"\ndecided 'could not decide' after {time.monotonic() - started:.1f} s (retries, then the hold window)")
    pg_server.start()
    store = open_store(url)
    try:
        [run] = store.runs(limit=5)
        assert run.status == "running"  # the store was gone when the run gave up: nobody could record it
        time.sleep(0.6)  # the reaper interval (TTL 0.5 s) passes; its owner never beats again
        assert [r.id for r in asyncio.run(reap(store, ttl=0.5))] == [run.id]
        assert store.get_run(run.id).status == "interrupted"  # type: ignore[union-attr]
        assert store.runs(status="running") == []
        assert len(store.results(run.id)) == 1  # c1, stored before the outage; nothing else pretends
    finally:
        store.close()


def test_an_incomplete_run_the_store_can_record_says_so(tmp_path: Path) -> None:
    """A write that keeps failing while the store still answers (here: results refused) ends the run
    `incomplete` in the store, with no verdict."""
    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [0.05, 0.1, 0.1, 0.1, 0.1]))
    store = open_store(None, sqlite_path=tmp_path / "golive.db")

    def refuse(run_id: str, result) -> None:  # type: ignore[no-untyped-def]
        if result.check_id in ("c3", "c4"):
            raise StoreUnavailable("the SQLite store cannot be written (database or disk is full)")
        Store.add_result(store, run_id, result)

    store.add_result = refuse  # type: ignore[method-assign]
    try:
        with pytest.raises(RunIncomplete) as err:
            asyncio.run(execute_run(store, checklist, "day1",
                                    durability=Durability(retries=2, backoff=0.01, hold_seconds=0.2)))
        assert err.value.missing == ["c3", "c4"] and "2 result(s) could not be recorded (c3, c4)" in str(err.value)
        run = store.runs(limit=1)[0]
        assert run.status == "incomplete" and run.verdict is None
    finally:
        store.close()


def test_a_live_run_is_never_reaped_a_dead_one_always(tmp_path: Path) -> None:
    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [1.0]))
    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    try:
        async def scenario() -> None:
            task = asyncio.create_task(execute_run(store, checklist, "day1", source="cli", durability=FAST))
            await asyncio.sleep(0.8)  # beyond the TTL: only the heartbeat keeps it alive
            assert await reap(store, ttl=FAST.heartbeat_ttl) == []
            assert (await task).run.status == "finished"

        asyncio.run(scenario())
    finally:
        store.close()


# -- full disk and read-only state dir (a tmpfs of our own) -----------------------------------------
@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; this runs as root in CI")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "golive-test", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


def fill(mount: Path) -> Path:
    filler = mount / "filler"
    # unbuffered: a buffered file holding a partial chunk raises ENOSPC again when it is closed
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_holds_the_results_and_writes_them_when_space_returns(small_fs: Path, tmp_path: Path) -> None:
    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [0.1] + [0.3 + 0.05 * i for i in range(30)]))
    store = open_store(None, sqlite_path=small_fs / "golive.db")
    try:
        filler: list[Path] = []
        first = at(0.2, lambda: filler.append(fill(small_fs)))
        outcome_box: list = []

        def free() -> None:
            first.join()
            filler[0].unlink()

        second = at(1.5, free)
        outcome_box.append(asyncio.run(execute_run(store, checklist, "day1", durability=FAST)))
        second.join()
        outcome = outcome_box[0]
        assert outcome.run.status == "finished"
        assert len(store.results(outcome.run.id)) == len(checklist.all_checks()) == 31
    finally:
        store.close()


async def test_readiness_is_503_while_the_disk_is_full(small_fs: Path) -> None:
    store = open_store(None, sqlite_path=small_fs / "golive.db")
    health = Health(store)
    try:
        assert (await health.ready())[0] is True
        filler = fill(small_fs)
        ok, state = await health.ready()  # SELECT 1 still answers: before, readiness stayed 200 here
        assert ok is False and "full" in state["store"], state
        filler.unlink()
        assert (await health.ready())[0] is True
    finally:
        store.close()


@pytest.mark.parametrize("existing", [False, True], ids=["empty-dir", "existing-store"])
def test_a_read_only_state_dir_is_a_clear_error_and_exit_3(small_fs: Path, tmp_path: Path, isolated_env: None,
                                                          monkeypatch: pytest.MonkeyPatch, existing: bool,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    state = small_fs / "state"
    if existing:
        open_store(None, sqlite_path=state / "golive.db").close()
    remount(small_fs, "ro")
    monkeypatch.setenv("GOLIVE_STATE_DIR", str(state))
    code = main(["run", "day1", "--checklist", str(write_checklist(tmp_path / "c.yml", [0.01]))])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "cannot be written" in err and "GOLIVE_STATE_DIR" in err and "Traceback" not in err, err


async def test_chatops_answers_every_request_on_a_full_disk(small_fs: Path, tmp_path: Path) -> None:
    """Before: with a full disk an Approve click and `/golive run` did nothing and said nothing."""
    from bot.chatops.actor import Actor
    from bot.chatops.commands import parse_command
    from bot.chatops.replies import Failed, SignoffOpened
    from bot.chatops.service import ChatOps

    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [0.01]))
    store = open_store(None, sqlite_path=small_fs / "golive.db")
    ops = ChatOps(store, checklist)
    try:
        opened = await ops.open_signoff(Actor("U0REQ", "slack"), "pre")
        filler = fill(small_fs)
        answers = [await ops.execute(parse_command("run day1"), Actor("U1", "slack")),
                   await ops.execute(parse_command("signoff pre"), Actor("U1", "slack"))]
        assert isinstance(opened, SignoffOpened)  # the default stages: a click on its card
        role = opened.stage.roles[0].id
        answers.append(await ops.decide_signoff(Actor("U1", "slack"), opened.request.id, role, "approve"))
        for answer in answers:
            assert isinstance(answer, Failed), answer
            assert "I could not record that" in answer.message or "is incomplete" in answer.message, answer
            assert "full" in answer.message, answer
        filler.unlink()
        assert not isinstance(await ops.execute(parse_command("run day1"), Actor("U1", "slack")), Failed)
    finally:
        store.close()


def test_status_never_shows_a_dead_cli_run_as_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a CLI run killed mid-way stayed 'running' forever (CLI runs were never reaped)."""
    from bot.runs.status import build_status

    monkeypatch.setenv("GOLIVE_HEARTBEAT_TTL_SECONDS", "0.2")
    checklist = load_checklist(write_checklist(tmp_path / "c.yml", [0.01]))
    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    try:
        dead = store.create_run(checklist=checklist.name, selector="day1", source="cli")
        live = store.create_run(checklist=checklist.name, selector="day1", source="cli")
        time.sleep(0.3)
        store.heartbeat([live.id])  # its owner is still alive
        assert [r.id for r in build_status(store, checklist).running] == [live.id]
        assert store.get_run(dead.id).status == "interrupted"  # type: ignore[union-attr]
    finally:
        store.close()
