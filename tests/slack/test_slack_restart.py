"""A bot that stops or dies mid-run: the run's parent message is updated afterwards (interrupted, with
a Re-run button), by the bot itself on shutdown or by its successor on start-up; never left running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.slack.ids import ACTION_RUN_RERUN, TRANSPORT
from bot.store import open_store
from tests.conftest import REDIS_URL
from tests.slack.support import CHANNEL, SECRETS, SlackStub, block_action, post_signed, running_bot, slash_command

REPO = Path(__file__).resolve().parents[2]


def rerun_button(call) -> dict:  # type: ignore[no-untyped-def]
    return next(e for b in call.payload["blocks"] for e in b.get("elements", [])
                if e.get("action_id") == ACTION_RUN_RERUN)


async def start_run_and_wait_for_progress(bot, stub: SlackStub) -> str:  # type: ignore[no-untyped-def]
    await bot.command("run day1")
    parent = (await stub.wait_for(lambda: stub.posts(top_level=True), what="parent"))[0].payload["ts"]
    await stub.wait_for(lambda: stub.posts(thread_ts=parent), what="first failure threaded")
    return parent


async def test_graceful_stop_marks_the_run_interrupted_and_rerun_starts_it_again(
        stub: SlackStub, checklist, store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SLOW_SECONDS", "30")
    async with running_bot(stub, checklist, store) as first:
        parent = await start_run_and_wait_for_progress(first, stub)
    run = store.runs()[0]
    assert run.status == "interrupted"
    final = stub.latest(parent)
    assert "interrupted" in final.text and rerun_button(final)["value"] == "day1"

    monkeypatch.setenv("TEST_SLOW_SECONDS", "0.2")
    async with running_bot(stub, checklist, store) as second:
        await asyncio.sleep(0.1)
        assert stub.latest(parent) is final  # nothing to repaint: the message already says interrupted
        await second.click(ACTION_RUN_RERUN, "day1", user="U0TECH", message_ts=parent)
        await stub.wait_for(lambda: len(store.runs()) == 2, what="the re-run to start")
        new_parent = await stub.wait_for(lambda: store.message(store.runs()[0].id, TRANSPORT, "parent"))
        assert new_parent.ts != parent
        await stub.wait_for(lambda: "NO-GO" in stub.latest(new_parent.ts).text, timeout=20, what="re-run verdict")
        assert store.runs()[0].status == "finished"
        assert store.runs()[0].requested_by == "U0TECH"
    stub.assert_clean()


async def test_successor_repaints_a_run_whose_bot_could_not(stub: SlackStub, checklist, store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SLOW_SECONDS", "30")
    async with running_bot(stub, checklist, store) as first:
        parent = await start_run_and_wait_for_progress(first, stub)
        stub.error_next("chat.update", "internal_error", times=5)  # dying, it cannot reach Slack
    assert "interrupted" not in stub.latest(parent).text
    stub.clear_failures()  # Slack is back
    async with running_bot(stub, checklist, store):
        repainted = stub.latest(parent)
        assert "interrupted" in repainted.text and rerun_button(repainted)["value"] == "day1"
    stub.assert_clean()


async def test_run_left_running_by_a_dead_process_is_reaped_on_start(stub: SlackStub, checklist, store) -> None:
    dead = store.create_run(checklist=checklist.name, selector="day1", requested_by="U0RELEASE", source=TRANSPORT,
                            expected=checklist.phase("day1").checks)
    store.remember_message(subject=dead.id, transport=TRANSPORT, purpose="parent", channel=CHANNEL,
                           ts="1690000000.000100")
    store.db.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id", {"id": dead.id})
    cli_run = store.create_run(checklist=checklist.name, selector="day2", source="cli")  # alive: left alone
    async with running_bot(stub, checklist, store):
        assert store.get_run(dead.id).status == "interrupted"
        update = stub.latest("1690000000.000100")
        assert update.method == "chat.update" and "interrupted" in update.text
        assert "0/4 checks had finished" in update.blocks_json
    assert store.get_run(cli_run.id).status == "running"
    stub.assert_clean()


async def test_a_live_run_is_left_alone_until_its_owner_heartbeat_expires(
        stub: SlackStub, checklist, store, redis_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another replica runs it and keeps beating: the sweep leaves it alone, lock or no lock (the lock
    is gone from Redis here, as after a Redis blip). Its replica dies: the sweep interrupts it."""
    monkeypatch.setenv("GOLIVE_HEARTBEAT_TTL_SECONDS", "0.5")
    run = store.create_run(checklist=checklist.name, selector="day1", source=TRANSPORT)
    store.remember_message(subject=run.id, transport=TRANSPORT, purpose="parent", channel=CHANNEL, ts="1.000200")

    async def beating() -> None:
        while True:
            await asyncio.to_thread(store.heartbeat, [run.id])
            await asyncio.sleep(0.1)

    beat = asyncio.create_task(beating())
    try:
        async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix,
                               start=False) as bot:
            bot.bot.sweep_interval = 0.1
            await bot.bot.start()
            await asyncio.sleep(1.0)  # two TTLs, ten sweeps
            assert store.get_run(run.id).status == "running"
            beat.cancel()  # that replica died
            await stub.wait_for(lambda: store.get_run(run.id).status == "interrupted", what="the sweep")
            await stub.wait_for(lambda: stub.latest("1.000200"), what="repaint")
    finally:
        beat.cancel()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_started(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:  # a hang guard
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            assert proc.poll() is None, f"bot exited: {proc.stderr.read() if proc.stderr else ''}"
            try:
                async with session.get(f"{url}/healthz/startup") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot did not start")


async def test_sigkill_mid_run_then_restart_updates_the_same_message(
        stub: SlackStub, checklist_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thing: `golive serve --http` in a subprocess, SIGKILLed mid-run, started again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update({
        "SLACK_BOT_TOKEN": SECRETS[0], "SLACK_SIGNING_SECRET": SECRETS[1],
        "GOLIVE_SLACK_API_URL": stub.api_url, "GOLIVE_SLACK_CHANNEL": CHANNEL, "GOLIVE_STATE_DIR": str(tmp_path),
        "GOLIVE_CHECKLIST": str(checklist_path), "GOLIVE_PROGRESS_INTERVAL": "0.2", "TEST_SLOW_SECONDS": "15",
        "PYTHONPATH": str(REPO), "GOLIVE_LOG_LEVEL": "DEBUG",
        "GOLIVE_HEARTBEAT_SECONDS": "0.2", "GOLIVE_HEARTBEAT_TTL_SECONDS": "1",
    })
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
    logs: list[str] = []

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    proc = spawn()
    try:
        await wait_started(url, proc)
        await post_signed(f"{url}/slack/events", slash_command("run day1", response_url=stub.response_url()))
        parent = (await stub.wait_for(lambda: stub.posts(top_level=True), what="parent"))[0].payload["ts"]
        await stub.wait_for(lambda: stub.posts(thread_ts=parent), what="progress")
        proc.send_signal(signal.SIGKILL)
        out, err = await asyncio.to_thread(proc.communicate, timeout=10)
        logs += [out, err]
        assert "interrupted" not in stub.latest(parent).text  # it died without a word
        await asyncio.sleep(1.2)  # its heartbeat expires (TTL 1 s): the successor reaps it at start

        proc = spawn()
        await wait_started(url, proc)
        repainted = stub.latest(parent)
        assert repainted.method == "chat.update" and "interrupted" in repainted.text
        assert rerun_button(repainted)["value"] == "day1"
        store = open_store(sqlite_path=tmp_path / "golive.db")
        try:
            assert [r.status for r in store.runs()] == ["interrupted"]
        finally:
            store.close()

        # the restarted bot handles the button on the repainted message; then a graceful stop
        await post_signed(f"{url}/slack/events", block_action(ACTION_RUN_RERUN, "day1", user="U0TECH",
                                                              response_url=stub.response_url(), message_ts=parent))
        await stub.wait_for(lambda: len(stub.posts(top_level=True)) == 2, what="the re-run's parent")
        new_parent = stub.posts(top_level=True)[1].payload["ts"]
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(proc.communicate, timeout=20)
        logs += [out, err]
        assert proc.returncode == 0, err
        assert "interrupted" in stub.latest(new_parent).text, err[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert any("Slack endpoint" in log for log in logs)
    for secret in SECRETS:
        assert all(secret not in log for log in logs)
    stub.assert_clean()
