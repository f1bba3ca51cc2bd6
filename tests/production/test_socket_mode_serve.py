"""`golive serve` in Socket Mode, against a local stand-in for Slack (Web API + WebSocket): ready only
while the socket delivers; when its loops die silently the watchdog reconnects and readiness returns."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, WSMsgType, web
from slack_sdk.socket_mode.aiohttp import SocketModeClient

import bot.degrade
from bench.harness import bench_checklist, free_port
from bot.commands.common import Context
from bot.commands.serve import serve
from bot.server import start_web_app
from bot.settings import Settings
from checks.loader import parse_checklist


class FakeSlack:
    """The Web API calls the bot makes at start-up and apps.connections.open → a local WebSocket."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.base = ""

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": self.base.replace("http", "ws") + "/link"})
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0"})
        return web.json_response({"ok": True, "ts": "1.000001", "channel": "C0"})

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello"}))
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
        return ws


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/{method}", fake.api)
    app.router.add_get("/link", fake.link)
    runner, port = await start_web_app(app)
    fake.base = f"http://127.0.0.1:{port}"
    yield fake
    for ws in fake.sockets:
        await ws.close()
    await runner.cleanup()


async def ready(http: ClientSession, port: int) -> tuple[int, dict[str, Any]]:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz/ready") as resp:
            return resp.status, await resp.json()
    except OSError:
        return 0, {}


async def until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_socket_mode_readiness_and_watchdog(slack: FakeSlack, tmp_path, isolated_env: None,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.degrade, "WATCHDOG_INTERVAL", 0.2)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-0000-0000-socketmodetest")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-0-socketmodetest")
    settings = Settings(slack_api_url=slack.base + "/api/", state_dir=tmp_path / "state")  # type: ignore[call-arg]
    ctx = Context(settings=settings, checklist=parse_checklist(bench_checklist("http://127.0.0.1:9"), "b.yml"))
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ctx, http=False, host="127.0.0.1", port=port, stop=stop))
    try:
        async with ClientSession() as http:
            await until(lambda: _is(ready(http, port), 200))
            assert len(slack.sockets) == 1
            client = next(o for o in gc.get_objects() if isinstance(o, SocketModeClient) and not o.closed)

            # the silent failure: the session stays open, its receive and ping loops are gone
            client.message_receiver.cancel()  # type: ignore[union-attr]
            client.current_session_monitor.cancel()  # type: ignore[union-attr]
            status, body = await until(lambda: _not_ready(ready(http, port)), timeout=5)
            assert status == 503 and "slack_socket" in body["reason"], body

            await until(lambda: _true(len(slack.sockets) >= 2))  # the watchdog reconnected
            await until(lambda: _is(ready(http, port), 200))
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def _is(probe: Any, status: int) -> bool:
    return (await probe)[0] == status


async def _not_ready(probe: Any) -> tuple[int, dict[str, Any]] | None:
    result = await probe
    return result if result[0] == 503 else None


async def _true(value: bool) -> bool:
    return value
