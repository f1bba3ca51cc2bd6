"""`golive serve` (Socket Mode) as a real process against the Socket Mode stand-in: a rejected app token
ends it with exit code 2 and one line (never ready meanwhile, never retried); SIGTERM/SIGINT end it with
exit 0 whether it is connecting, connected or reconnecting, cutting short a Slack that hangs for 60 s. The
waits below are hang guards (generous, below those 60 s), not speed bounds: the stop time is printed, and a
busy machine must not fail the test."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bench.harness import free_port
from tests.conftest import PG_URL, REDIS_URL
from tests.slack.socket_standin import SocketModeSlack
from tests.slack.support import APP_TOKEN, BOT_TOKEN, CHANNEL, SECRETS, slash_command

REPO = Path(__file__).resolve().parents[2]
CHECKLIST = REPO / "tests" / "slack" / "fixtures" / "golive_test.yml"


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeSlack]:
    stub = await SocketModeSlack().start()
    yield stub
    await stub.close()


class Bot:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.ready_statuses: list[int] = []

    async def probe(self, session: aiohttp.ClientSession, name: str = "ready") -> tuple[int, str]:
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/healthz/{name}") as resp:
                body = await resp.json()
                if name == "ready":
                    self.ready_statuses.append(resp.status)
                return resp.status, str(body.get("reason", ""))
        except aiohttp.ClientError:
            return 0, ""

    async def stopped_within(self, seconds: float) -> tuple[float, str]:
        started = time.monotonic()
        _, err = await asyncio.wait_for(self.proc.communicate(), seconds + 5)
        return time.monotonic() - started, err.decode()


async def spawn(slack: SocketModeSlack, tmp_path: Path, redis_prefix: str) -> Bot:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update({
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "GOLIVE_SLACK_API_URL": slack.api_url,
        "GOLIVE_SLACK_CHANNEL": CHANNEL, "GOLIVE_STATE_DIR": str(tmp_path), "GOLIVE_CHECKLIST": str(CHECKLIST),
        "TEST_DATABASE_URL": PG_URL, "TEST_REDIS_URL": REDIS_URL, "TEST_REDIS_PREFIX": redis_prefix,
        "PYTHONPATH": str(REPO), "TEST_SLOW_SECONDS": "30", "GOLIVE_PROGRESS_INTERVAL": "0.2",
    })
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Bot(proc, port)


async def until(predicate, timeout: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return value


async def test_a_rejected_app_token_exits_2_with_one_line_and_is_never_ready(
        slack: SocketModeSlack, tmp_path: Path, redis_prefix: str) -> None:
    slack.error_next("apps.connections.open", "invalid_auth", times=100)
    slack.open_delay = 1.0  # the probes answer a while before Slack's answer: they must not say ready
    started = time.monotonic()
    bot = await spawn(slack, tmp_path, redis_prefix)
    async with aiohttp.ClientSession() as session:
        while bot.proc.returncode is None and time.monotonic() - started < 60:  # hang guard
            await bot.probe(session)
            await asyncio.sleep(0.05)
    _, err = await bot.stopped_within(30)
    took = time.monotonic() - started
    print(f"\ninvalid_auth: exit {bot.proc.returncode} after {took:.2f}s; stderr:\n{err}")
    assert bot.proc.returncode == 2, err
    assert 200 not in bot.ready_statuses and 503 in bot.ready_statuses, bot.ready_statuses
    lines = [line for line in err.splitlines() if "SLACK_APP_TOKEN" in line]
    assert len(lines) == 1, err
    assert "invalid_auth" in lines[0] and "Basic Information → App-Level Tokens" in lines[0]
    assert "Traceback" not in err and "will be unused" not in err
    assert len(slack.opens) == 1  # a rejected token is not retried
    assert all(secret not in err for secret in SECRETS)


@pytest.mark.parametrize(("phase", "sig"), [("starting", signal.SIGTERM),
                                             ("connecting", signal.SIGTERM), ("connecting", signal.SIGINT),
                                             ("connected", signal.SIGTERM), ("reconnecting", signal.SIGTERM)])
async def test_a_signal_stops_it_at_every_moment(slack: SocketModeSlack, tmp_path: Path,
                                                           redis_prefix: str, phase: str, sig: int) -> None:
    if phase == "starting":
        slack.delays["auth.test"] = 60.0  # the bot token check hangs
    if phase == "connecting":
        slack.open_delay = 60.0  # apps.connections.open never answers in time
    bot = await spawn(slack, tmp_path, redis_prefix)
    try:
        async with aiohttp.ClientSession() as session:
            if phase == "starting":
                await until(lambda: slack.times("auth.test"), what="the pending auth.test")
                await asyncio.sleep(0.3)
                assert (await bot.probe(session, "startup"))[0] == 503
                assert (await bot.probe(session))[0] == 503
            elif phase == "connecting":
                await until(lambda: slack.opens, what="a pending apps.connections.open")
                status, reason = await bot.probe(session)
                assert status == 503 and "Slack Socket Mode not connected yet" in reason, reason
                assert (await bot.probe(session, "startup"))[0] == 503
            else:
                deadline = time.monotonic() + 60  # hang guard
                while (await bot.probe(session))[0] != 200:
                    assert bot.proc.returncode is None and time.monotonic() < deadline, "never ready"
                    await asyncio.sleep(0.05)
                assert (await bot.probe(session, "startup"))[0] == 200
            parent = None
            if phase == "reconnecting":  # with a run in flight, which the stop marks interrupted
                payload = dict(urllib.parse.parse_qsl(slash_command("run day1", response_url=slack.response_url())))
                await slack.send({"envelope_id": "env-run", "type": "slash_commands",
                                  "accepts_response_payload": True, "payload": payload})
                parent = (await slack.wait_for(lambda: slack.posts(top_level=True), what="the run"))[0].payload["ts"]
                await slack.wait_for(lambda: slack.posts(thread_ts=parent), what="progress")
                slack.open_delay = 60.0
                slack.reset()
                await until(lambda: len(slack.opens) >= 2, what="the pending reopen")
                assert (await bot.probe(session))[0] == 503
        bot.proc.send_signal(sig)
        took, err = await bot.stopped_within(35)  # below the 60 s hangs: only the signal ends it this soon
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.communicate()
    print(f"\n{phase} {signal.Signals(sig).name}: stopped in {took:.2f}s")
    assert bot.proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "will be unused" not in err, err[-3000:]
    if parent is not None:
        assert "interrupted" in slack.latest(parent).text, slack.latest(parent)  # as a restart would show it
    slack.assert_clean()
