"""A stand-in for Slack in Socket Mode: the Web API (everything `SlackStub` answers and checks) plus
`apps.connections.open` and the WebSocket it hands out, with the faults Socket Mode meets in production.

Faults: `open_delay` (apps.connections.open answers late; `delays` for other methods), `withhold_hello`
(the socket opens but Slack's `hello` waits for `release_hello()`), `error_next("apps.connections.open",
"invalid_auth")` (inherited),
and on the live connection `reset()` (TCP RST), `fin()` (TCP FIN, no close frame), `close_frame()`,
`go_silent()` (no more pongs, nothing sent) and `send_disconnect()` (Slack's `disconnect` message).
Every open, connection and drop is recorded in `events` in the order it happened (timestamped with
`time.monotonic()` for bench/), and so is every ping of slack_sdk's (`sdk-ping-pong:`) that a silent
connection left unanswered ("ping:unanswered"): a test counts opens per drop, and how many of the client's
pings a silence took to notice, instead of timing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.slack.support import APP_TOKEN, SlackStub


@dataclass
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    opened_at: float = field(default_factory=time.monotonic)
    hello_sent: bool = False
    silent: bool = False
    dropped: bool = False
    pings: int = 0  # slack_sdk's pings answered on this connection
    acks: list[dict[str, Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        return self.hello_sent and not self.silent and not self.dropped and not self.ws.closed


class SocketModeSlack(SlackStub):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.open_delay = 0.0
        self.delays: dict[str, float] = {}  # other Web API methods that answer late, e.g. {"auth.test": 60}
        self.withhold_hello = False
        self._hello_gate = asyncio.Event()
        self.connections: list[Connection] = []
        self.events: list[tuple[float, str]] = []
        self._pump: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def start(self) -> SocketModeSlack:
        await super().start()
        self._pump = asyncio.create_task(self._pump_envelopes())
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._pump is not None:
            self._pump.cancel()
        self._hello_gate.set()
        for conn in self.connections:
            conn.done.set()
            with contextlib.suppress(Exception):
                conn.request.transport.abort()  # type: ignore[union-attr]
        await super().close()

    # -- what happened --------------------------------------------------------------------------------
    def times(self, name: str) -> list[float]:
        return [t for t, what in self.events if what == name]

    def between(self, name: str, first: str, then: str) -> int:
        """How many `name` events happened after the first `first` event and before the next `then`."""
        kinds = [what for _, what in self.events]
        start = kinds.index(first)
        end = next((i for i in range(start + 1, len(kinds)) if kinds[i] == then), len(kinds))
        return kinds[start:end].count(name)

    @property
    def opens(self) -> list[float]:
        return self.times("apps.connections.open")

    @property
    def current(self) -> Connection:
        return self.connections[-1]

    def live(self) -> Connection | None:
        return next((c for c in reversed(self.connections) if c.live), None)

    # -- faults on the live connection ----------------------------------------------------------------
    def release_hello(self) -> None:
        self.withhold_hello = False
        self._hello_gate.set()

    def _mark(self, conn: Connection, what: str) -> float:
        conn.dropped = True
        at = time.monotonic()
        self.events.append((at, what))
        return at

    def reset(self) -> float:
        """TCP RST: SO_LINGER 0 and abort, as a crashed load balancer would. Returns when it happened."""
        conn = self.current
        sock = conn.request.transport.get_extra_info("socket")  # type: ignore[union-attr]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        at = self._mark(conn, "drop:reset")
        conn.request.transport.abort()  # type: ignore[union-attr]
        conn.done.set()
        return at

    def fin(self) -> float:
        """TCP FIN without a WebSocket close frame."""
        conn = self.current
        at = self._mark(conn, "drop:fin")
        conn.request.transport.close()  # type: ignore[union-attr]
        conn.done.set()
        return at

    async def close_frame(self) -> float:
        conn = self.current
        at = self._mark(conn, "drop:close")
        await conn.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"standin closes")
        conn.done.set()
        return at

    def go_silent(self) -> float:
        """The socket stays open, but nothing comes back: no pong, no envelope (what arrives is counted)."""
        conn = self.current
        conn.silent = True
        return self._mark(conn, "drop:silent")

    async def send_disconnect(self, reason: str = "refresh_requested") -> float:
        conn = self.current
        at = self._mark(conn, "drop:disconnect")
        await conn.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})
        return at

    # -- the Web API and the socket -------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        delay = self.delays.get(method, 0.0)
        self.events.append((time.monotonic(), method))  # on arrival (calls are recorded once answered)
        if method == "apps.connections.open":
            if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
                self.problems.append("apps.connections.open: called without the app token")
            delay = self.open_delay
        if delay:
            with contextlib.suppress(TimeoutError):  # closing the stand-in ends the wait
                await asyncio.wait_for(self._closing.wait(), delay)
        return await super()._api(request)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)  # pongs come from _read, which a silence stops
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections.append(conn)
        self.events.append((conn.opened_at, "socket"))
        conn.reader = asyncio.create_task(self._read(conn))
        try:
            if self.withhold_hello:
                await self._hello_gate.wait()
            if not conn.dropped and not ws.closed:
                await ws.send_json({"type": "hello", "num_connections": 1,
                                    "debug_info": {"host": "standin", "approximate_connection_time": 3600}})
                conn.hello_sent = True
                self.events.append((time.monotonic(), "hello"))
            await conn.done.wait()
        finally:
            conn.reader.cancel()
        return ws

    async def _read(self, conn: Connection) -> None:
        try:
            async for msg in conn.ws:
                if msg.type == aiohttp.WSMsgType.PING:
                    sdk = bytes(msg.data or b"").startswith(b"sdk-ping-pong:")
                    if conn.silent:
                        if sdk:
                            self.events.append((time.monotonic(), "ping:unanswered"))
                        continue
                    conn.pings += sdk
                    await conn.ws.pong(msg.data)
                elif conn.silent:
                    continue
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    conn.acks.append(ack)
                    self.socket_acks.append(ack)
        finally:
            if not conn.silent:
                conn.done.set()

    async def send(self, envelope: dict[str, Any], timeout: float = 10.0) -> Connection:
        """Deliver an envelope on the live connection (waiting for one, as Slack queues while none is)."""
        deadline = time.monotonic() + timeout
        while (conn := self.live()) is None:
            assert time.monotonic() < deadline, "no live Socket Mode connection to deliver on"
            await asyncio.sleep(0.01)
        await conn.ws.send_json(envelope)
        return conn

    async def _pump_envelopes(self) -> None:
        while True:
            await self.send(await self.socket_envelopes.get(), timeout=3600)
