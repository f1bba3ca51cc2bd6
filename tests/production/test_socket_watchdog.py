"""Socket Mode that stops delivering silently is noticed and reconnected, against a local WebSocket
server standing in for Slack (apps.connections.open + the wss endpoint), with slack_sdk's real client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.degrade import Readiness, SocketModeWatchdog, degradations
from bot.server import start_web_app


class FakeSlack:
    """apps.connections.open hands out ws URLs; each connection says hello and can be sent envelopes."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[str] = []
        self.opened = 0
        self.base = ""

    async def open(self, request: web.Request) -> web.Response:
        self.opened += 1
        return web.json_response({"ok": True, "url": f"{self.base.replace('http', 'ws')}/link?n={self.opened}"})

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.acks.append(json.loads(msg.data).get("envelope_id", ""))
        return ws

    async def send_envelope(self, envelope_id: str) -> None:
        ws = self.sockets[-1]
        await ws.send_str(json.dumps({"envelope_id": envelope_id, "type": "events_api",
                                      "accepts_response_payload": False,
                                      "payload": {"event": {"type": "app_mention", "text": "status"}}}))


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/apps.connections.open", fake.open)
    app.router.add_get("/link", fake.link)
    runner, port = await start_web_app(app)
    fake.base = f"http://127.0.0.1:{port}"
    yield fake
    for ws in fake.sockets:
        await ws.close()
    await runner.cleanup()


async def eventually(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_watchdog_reconnects_a_silently_dead_session(slack: FakeSlack) -> None:
    received: list[str] = []
    web_client = AsyncWebClient(token="xoxb-test", base_url=slack.base + "/api/")
    client = SocketModeClient(app_token="xapp-1-test", web_client=web_client, ping_interval=0.5)

    async def on_request(c: Any, req: SocketModeRequest) -> None:
        received.append(req.envelope_id)

    client.socket_mode_request_listeners.append(on_request)
    watchdog = SocketModeWatchdog(client, interval=0.1, stale_after=5.0)
    readiness = Readiness(timeout=1.0).add_socket(watchdog)
    try:
        await client.connect()
        await eventually(lambda: len(slack.sockets) == 1)
        await slack.send_envelope("e1")
        await eventually(lambda: received == ["e1"])
        assert (await readiness.report()).ready

        # the failure seen in production: the session stays open, but its loops are gone
        assert client.message_receiver is not None and client.current_session_monitor is not None
        client.message_receiver.cancel()
        client.current_session_monitor.cancel()
        await asyncio.sleep(0.05)
        assert await client.is_connected()  # slack_sdk alone still believes all is well
        report = await readiness.report()
        assert not report.ready and "receive loop has stopped" in report.checks["slack_socket"]

        watchdog.start()
        await eventually(lambda: watchdog.reconnects >= 1 and len(slack.sockets) >= 2)
        await eventually(lambda: client.message_receiver is not None and not client.message_receiver.done())
        await slack.send_envelope("e2")
        await eventually(lambda: "e2" in received)
        assert slack.opened >= 2
        await eventually(lambda: degradations.active() == {}, timeout=3)
        assert (await readiness.report()).ready
    finally:
        await watchdog.stop()
        await client.close()


class StaleClient:
    """A client whose session looks connected but whose last pong is old (nothing is delivered)."""

    closed = False
    message_receiver = current_session_monitor = message_processor = None

    def __init__(self) -> None:
        self.last_ping_pong_time = time.time() - 120
        self.reconnects = 0
        self.message_listeners: list[Any] = []

    async def is_connected(self) -> bool:
        return True

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        assert force
        self.reconnects += 1
        self.last_ping_pong_time = time.time()


async def test_watchdog_reconnects_when_pongs_go_stale() -> None:
    client = StaleClient()
    watchdog = SocketModeWatchdog(client, stale_after=30.0)
    watchdog.last_activity = time.time() - 120
    assert "no pong or envelope" in (await watchdog.problem() or "")
    assert await watchdog.tick()
    assert client.reconnects == 1 and "slack_socket" in degradations.active()
    assert not await watchdog.tick()
    assert degradations.active() == {}


async def test_envelopes_count_as_activity() -> None:
    client = StaleClient()
    watchdog = SocketModeWatchdog(client, stale_after=30.0)
    watchdog.last_activity = time.time() - 120
    await client.message_listeners[0](client, {"type": "events_api"}, "{}")
    assert await watchdog.problem() is None
