"""One set of run locks for every way in: a terminal (`golive run`) and a chat transport take the same
locks (Redis), and two runs that share a check never overlap; the refusal names the run that holds them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.commands.run import EXIT_BUSY
from bot.store import open_store
from checks.loader import load_checklist
from tests.conftest import REDIS_URL
from tests.slack.support import SlackStub, running_bot

CHECKLIST = """
name: locks-test
phases:
  - id: day1
    title: Slow
    checks:
      - {id: slow.step, kind: command, timeout: 30, params: {command: [sleep, "2"], pass_target_env: false}}
  - id: day3
    title: Also slow
    checks:
      - {id: slow.other, kind: command, timeout: 30, params: {command: [sleep, "2"], pass_target_env: false}}
"""


@pytest.fixture
def setup(tmp_path: Path, isolated_env: None, redis_prefix: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "locks.yml"
    path.write_text(CHECKLIST)
    monkeypatch.setenv("GOLIVE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("GOLIVE_REDIS_PREFIX", redis_prefix)
    store = open_store(sqlite_path=tmp_path / "state" / "golive.db")  # the CLI's default store here
    yield path, load_checklist(path), store
    store.close()


async def slack_run_going(stub: SlackStub, bot, selector: str, store) -> None:  # type: ignore[no-untyped-def]
    await bot.command(f"run {selector}", user="U0RELEASE")
    for _ in range(200):
        if store.runs(status="running"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the Slack run did not start")


@pytest.mark.parametrize(("chat", "terminal", "named"), [("day1", "day1", "is already running"),
                                                          ("day3", "all", "shares checks with day3")])
async def test_a_terminal_run_is_refused_while_a_chat_run_holds_its_checks(
        setup, redis_prefix: str, capsys: pytest.CaptureFixture[str], chat: str, terminal: str,  # type: ignore[no-untyped-def]
        named: str) -> None:
    path, checklist, store = setup
    stub = await SlackStub().start()
    try:
        async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix,
                               progress_interval=0.0) as bot:
            await slack_run_going(stub, bot, chat, store)
            code = await asyncio.to_thread(cli_main, ["run", terminal, "--checklist", str(path), "--no-color"])
            err = capsys.readouterr().err
            assert code == EXIT_BUSY, err
            assert named in err and "U0RELEASE" in err and "from slack" in err
            assert [r.selector for r in store.runs()] == [chat]  # nothing else was started
    finally:
        await stub.close()


async def test_a_chat_run_is_refused_privately_while_a_terminal_run_holds_its_checks(setup, redis_prefix: str,  # type: ignore[no-untyped-def]
                                                                                     ) -> None:
    path, checklist, store = setup
    stub = await SlackStub().start()
    try:
        async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix,
                               progress_interval=0.0) as bot:
            terminal = asyncio.create_task(asyncio.to_thread(cli_main, ["run", "day3", "--checklist", str(path)]))
            for _ in range(200):
                if store.runs(status="running"):
                    break
                await asyncio.sleep(0.02)
            await bot.command("run all", user="U0OTHER", response="all")
            busy = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                                if c.payload["response_url_name"] == "all"], what="the refusal")
            assert busy[0].payload["response_type"] == "ephemeral"
            assert "shares checks with `day3`" in busy[0].text and "from a terminal" in busy[0].text
            assert stub.posts() == []  # nothing public
            assert await terminal == 0  # its own run went on to its verdict (GO)
    finally:
        await stub.close()
