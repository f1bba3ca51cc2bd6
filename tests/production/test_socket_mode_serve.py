"""`golive serve` in Socket Mode against a stand-in for Slack (Web API + WebSocket, tests/slack/socket_standin.py):
ready only after Slack's hello and 503 while disconnected; each drop (RST, FIN, close frame, `disconnect`,
silence) reopens once and fast, and a run started before the drop still finishes its message; a redelivered
envelope (retry_attempt >= 1) does not start a second run, a first delivery with retry_attempt 0 does."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bench.harness import free_port
from bot.commands.common import Context, UsageError
from bot.commands.serve import serve
from bot.settings import Settings
from bot.slack.socket_mode import SocketTiming
from checks.loader import load_checklist
from checks.masking import masker
from tests.conftest import PG_URL, REDIS_URL
from tests.slack.socket_standin import SocketModeSlack
from tests.slack.support import APP_TOKEN, BOT_TOKEN, CHANNEL, SECRETS, slash_command

FIXTURES = Path(__file__).resolve().parents[1] / "slack" / "fixtures"
PING = 1.5  # short, so silence is found in seconds; not so short that a loaded CI machine misses a pong
TIMING = SocketTiming(ping_interval=PING, check_interval=0.1, hello_timeout=3.0, backoff_base=0.2, backoff_max=1.0)


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeSlack]:
    stub = await SocketModeSlack().start()
    yield stub
    await stub.close()


@pytest.fixture
def checklist_env(monkeypatch: pytest.MonkeyPatch, redis_prefix: str) -> Path:
    monkeypatch.setenv("TEST_DATABASE_URL", PG_URL)
    monkeypatch.setenv("TEST_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("TEST_REDIS_PREFIX", redis_prefix)
    return FIXTURES / "golive_test.yml"


class Served:
    """`serve()` in-process (Socket Mode) on a free port, with its probes."""

    def __init__(self, slack: SocketModeSlack, ctx: Context) -> None:
        self.slack = slack
        self.ctx = ctx
        self.port = free_port()
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.http = ClientSession()
        self.readiness: list[tuple[float, int, str]] = []

    def start(self) -> None:
        self.task = asyncio.create_task(serve(self.ctx, http=False, host="127.0.0.1", port=self.port,
                                              stop=self.stop, socket_timing=TIMING))

    async def probe(self, name: str = "ready") -> tuple[int, dict[str, Any]]:
        try:
            async with self.http.get(f"http://127.0.0.1:{self.port}/healthz/{name}") as resp:
                body = await resp.json()
        except OSError:
            return 0, {}
        if name == "ready":
            self.readiness.append((time.monotonic(), resp.status, str(body.get("reason", ""))))
        return resp.status, body

    async def until(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            assert self.task is None or not self.task.done(), f"serve ended: {self.task.exception()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    async def ready(self, timeout: float = 15.0) -> None:
        async def is_ready() -> bool:
            return (await self.probe())[0] == 200
        await self.until(is_ready, timeout, "readiness 200")

    async def close(self) -> None:
        self.stop.set()
        try:
            if self.task is not None and not self.task.done():
                await asyncio.wait_for(self.task, 10)
        finally:
            await self.http.close()


@pytest.fixture
async def served(slack: SocketModeSlack, checklist_env: Path, tmp_path: Path, isolated_env: None,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    masker.add(*SECRETS)
    settings = Settings(slack_api_url=slack.api_url, state_dir=tmp_path / "state", slack_channel=CHANNEL,
                        progress_interval=0.3)  # type: ignore[call-arg]
    ctx = Context(settings=settings, checklist=load_checklist(checklist_env))
    running = Served(slack, ctx)
    yield running
    await running.close()


def command_envelope(text: str, slack: SocketModeSlack, envelope_id: str, *, trigger_id: str | None = None,
                     **extra: Any) -> dict[str, Any]:
    payload = dict(urllib.parse.parse_qsl(slash_command(text, response_url=slack.response_url(envelope_id),
                                                         trigger_id=trigger_id)))
    return {"envelope_id": envelope_id, "type": "slash_commands", "accepts_response_payload": True,
            "payload": payload, **extra}


async def test_not_ready_until_hello_then_ready(served: Served, slack: SocketModeSlack) -> None:
    slack.withhold_hello = True
    served.start()
    await served.until(lambda: slack.connections, what="the WebSocket")
    await asyncio.sleep(0.3)
    status, body = await served.probe()
    assert status == 503 and "Slack Socket Mode not connected yet" in body["reason"], body
    startup, body = await served.probe("startup")
    assert startup == 503 and "not connected yet" in body["reason"], body
    slack.release_hello()
    await served.ready()
    assert (await served.probe("startup"))[0] == 200
    assert len(slack.opens) == 1


DROPS = {
    "reset": lambda s: s.reset(),
    "fin": lambda s: s.fin(),
    "close_frame": lambda s: s.close_frame(),
    "disconnect": lambda s: s.send_disconnect(),
    "silence": lambda s: s.go_silent(),
}


@pytest.mark.parametrize("drop", list(DROPS))
async def test_a_drop_reopens_once_and_fast_and_the_run_finishes(served: Served, slack: SocketModeSlack,
                                                                 drop: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="golive")
    served.start()
    await served.ready()
    assert len(slack.opens) == 1

    # a run (its slow step takes 3 s) started before the drop
    await slack.send(command_envelope("run day1", slack, "env-run"))
    parent = (await slack.wait_for(lambda: slack.posts(top_level=True), what="the run's parent"))[0].payload["ts"]
    await slack.wait_for(lambda: slack.posts(thread_ts=parent), what="progress in the thread")

    slack.open_delay = 0.6  # the reopen is pending a while, so "not ready meanwhile" can be seen
    result = DROPS[drop](slack)
    dropped_at = await result if asyncio.iscoroutine(result) else result

    async def unready() -> bool:
        return (await served.probe())[0] == 503
    await served.until(unready, timeout=2 * PING + 1, what="readiness 503 after the drop")
    await served.until(lambda: len(slack.opens) >= 2, timeout=2 * PING + 2, what="a new apps.connections.open")
    slack.open_delay = 0
    await served.ready()
    _, _, reason = next(r for r in served.readiness if r[0] > dropped_at and r[1] == 503)
    assert "slack_socket" in reason and "reconnecting" in reason, reason

    # fast, shown by what happened in between rather than by wall-clock gaps a busy machine stretches
    # (bench/socket_reconnect.py times them): the drop was noticed and the connection reopened at once
    dropped = [r.getMessage() for r in caplog.records if "connection dropped" in r.getMessage()]
    assert len(dropped) == 1 and "reconnecting now" in dropped[0], dropped
    assert not [r for r in caplog.records if "opening a connection failed" in r.getMessage()]  # no backoff wait
    mark = next(what for _, what in slack.events if what.startswith("drop:"))
    unanswered = slack.between("ping:unanswered", mark, "apps.connections.open")
    if drop == "silence":
        # noticed by the missing pongs, before the client's third ping went unanswered (stale after 1.5)
        assert "no pong" in dropped[0].lower(), dropped  # golive's own check, or aiohttp's heartbeat
        assert unanswered <= 2, f"silence: {unanswered} of the client's pings went unanswered before the reopen"
    else:
        # noticed from the connection itself (closed, or Slack's disconnect), not by waiting out the pings
        assert "no pong" not in dropped[0].lower(), dropped
        assert unanswered == 0

    # the run finishes its message (the Web API never depended on the socket)
    final = await slack.wait_for(lambda: _final(slack, parent), timeout=15, what="the run's final message")
    assert "interrupted" not in final.text.lower(), final.text

    # and one open per drop: the new connection answers two of the client's pings (a full ping interval)
    # with no stray second reconnect meanwhile
    await served.until(lambda: slack.current.pings >= 2, timeout=4 * PING, what="two pings on the new connection")
    assert len(slack.opens) == 2, f"{drop}: {len(slack.opens)} apps.connections.open calls for one drop"
    assert len(slack.connections) == 2
    assert (await served.probe())[0] == 200
    slack.assert_clean()


def _final(slack: SocketModeSlack, parent: str) -> Any:
    latest = slack.latest(parent)
    return latest if latest is not None and latest.method == "chat.update" and "GO" in latest.text else None


async def test_failed_opens_back_off_with_jitter_then_connect(served: Served, slack: SocketModeSlack,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="golive")
    slack.fail_next("apps.connections.open", status=503, times=3)
    served.start()
    await served.until(lambda: len(slack.opens) >= 2, what="a retried open")
    status, body = await served.probe()
    assert status == 503 and "not connected yet" in body["reason"] and "503" in body["reason"], body
    await served.ready(timeout=10)
    assert len(slack.opens) == 4
    failed = [r for r in caplog.records if "opening a connection failed" in r.getMessage()]
    assert len(failed) == 3 and "503" in failed[0].getMessage() and "retrying in" in failed[0].getMessage()
    # the waits it chose (not the wall-clock gaps, which a busy machine stretches): backoff 0.2 → 0.4 → 0.8,
    # each jittered in [cap/2, cap] and logged to 0.1 s
    waits = [float(re.search(r"retrying in ([0-9.]+)s", r.getMessage()).group(1)) for r in failed]  # type: ignore[union-attr]  # asserted present above
    assert all(cap / 2 - 0.05 <= w <= cap + 0.05 for w, cap in zip(waits, (0.2, 0.4, 0.8), strict=True)), waits
    assert sum(1 for r in caplog.records if r.exc_info) <= 1  # a traceback at most once


async def test_missing_scope_is_a_usage_error_naming_the_setting(served: Served, slack: SocketModeSlack) -> None:
    slack.fail_next("apps.connections.open", status=200, headers={},
                    body={"ok": False, "error": "missing_scope", "needed": "connections:write"}, times=5)
    served.start()
    with pytest.raises(UsageError) as raised:
        await asyncio.wait_for(served.task, 10)  # type: ignore[arg-type]
    served.task = None
    message = str(raised.value)
    assert "SLACK_APP_TOKEN" in message and "connections:write" in message and "App-Level Tokens" in message
    assert "\n" not in message
    assert len(slack.opens) == 1


async def test_retry_attempt_zero_is_a_first_delivery_and_one_is_a_redelivery(served: Served,
                                                                              slack: SocketModeSlack) -> None:
    served.start()
    await served.ready()
    await slack.send(command_envelope("run day2", slack, "env-first", trigger_id="1.first", retry_attempt=0,
                                      retry_reason=""))
    await slack.wait_for(lambda: slack.posts(top_level=True), what="the first delivery's run")
    await slack.send(command_envelope("run day2", slack, "env-retry", trigger_id="1.retry", retry_attempt=1,
                                      retry_reason="timeout"))
    await slack.wait_for(lambda: {a.get("envelope_id") for a in slack.socket_acks} >= {"env-first", "env-retry"},
                         what="both acks")
    await asyncio.sleep(0.5)
    assert len(slack.posts(top_level=True)) == 1  # the redelivery was acknowledged, not acted on
