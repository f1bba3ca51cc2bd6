"""Ack first, work later: Slack's 3-second ack for slash commands and button clicks, answered in well
under a millisecond of CPU, however busy the bot is.

Going through Bolt costs ~3 ms of CPU per request before the ack (request parsing, middleware, kwargs
injection and a deep copy of the request for each lazy listener), and the work those requests start
runs on the same event loop. A burst of 50 commands therefore queues the 50th ack behind ~150 ms of
other requests' work. For the two request kinds whose ack is always an empty 200 (`/golive` slash
commands and block_actions clicks) this endpoint verifies the signature itself, answers 200 at once,
and queues the request for Bolt, dispatched once the burst has passed (no Slack request for
`quiet` seconds, never later than `max_wait`). Everything else that is signed (view submissions, which
may answer with validation errors; url_verification) goes through Bolt unchanged.

A request without a valid signature (missing, wrong, stale, or a timestamp that is not a number) is
answered 401 here and never reaches Bolt: Bolt answered a non-numeric timestamp with a 500 (one Sentry
event per request) and logged refused bodies whole. One short line is logged instead: size and reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("golive.slack.ackfirst")

QUIET = 0.015
"""Seconds without a new Slack request before deferred work starts."""
MAX_WAIT = 0.5
"""Deferred work never waits longer than this for a quiet moment."""


def acks_empty(body: str) -> bool:
    """True for the requests whose ack carries no content: slash commands and block_actions clicks."""
    form = parse_qs(body, max_num_fields=64)
    if "command" in form:
        return True
    payload = form.get("payload")
    if not payload:
        return False
    try:
        return bool(json.loads(payload[0]).get("type") == "block_actions")
    except (ValueError, AttributeError):
        return False


def refuse_unsigned(size: int, timestamp: str) -> web.Response:
    """401 for a request Slack did not sign; logs its size and timestamp header, never its body."""
    shown = timestamp if timestamp.isdigit() and len(timestamp) <= 12 else f"{len(timestamp)} chars, not a number"
    log.warning("refused a Slack request without a valid signature (%d bytes, timestamp %s)", size,
                shown if timestamp else "missing")
    return web.json_response({"error": "invalid or missing Slack signature"}, status=401)


class AckFirst:
    """Acknowledges commands and clicks before Bolt sees them; see the module docstring for why."""

    def __init__(self, bolt_app: Any, *, signing_secret: str | None = None, quiet: float = QUIET,
                 max_wait: float = MAX_WAIT) -> None:
        self.bolt_app = bolt_app
        secret = signing_secret if signing_secret is not None else getattr(bolt_app, "_signing_secret", "")
        self.verifier = SignatureVerifier(secret) if secret else None
        self.quiet = quiet
        self.max_wait = max_wait
        self.last_arrival = 0.0
        self.pending: set[asyncio.Task[None]] = set()
        self.queue: deque[tuple[AsyncBoltRequest, float]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self.dispatched = 0

    async def try_ack(self, request: web.Request) -> web.Response | None:
        """An immediate 200 (work scheduled) for a signed command or click; None to go through Bolt."""
        loop = asyncio.get_running_loop()
        self.last_arrival = loop.time()
        if self.verifier is None:
            return None
        body = await request.text()  # aiohttp caches it: Bolt can read it again on the fallback path
        headers = request.headers
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        try:
            valid = self.verifier.is_valid(body, timestamp, headers.get("X-Slack-Signature", ""))
        except (ValueError, TypeError):  # a timestamp that is not a number
            valid = False
        if not valid:
            return refuse_unsigned(len(body), timestamp)
        if not acks_empty(body):
            return None
        self.defer(AsyncBoltRequest(body=body, query=request.query_string, headers=dict(headers)))
        return web.Response(status=200)

    def defer(self, bolt_request: AsyncBoltRequest) -> None:
        """Queue a request for Bolt. One worker waits for the quiet moment (one timer for the whole burst:
        a task per request, each polling for quiet, cost more loop time than the acks themselves) and then
        starts the dispatches one per loop turn, so the burst's work never fills a turn ahead of an ack."""
        loop = asyncio.get_running_loop()
        self.queue.append((bolt_request, loop.time()))
        if self._worker is None or self._worker.done():
            self._worker = self._track(loop.create_task(self._work()))

    def _track(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return task

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            arrived = self.queue[0][1]
            while (wait := min(self.last_arrival + self.quiet, arrived + self.max_wait) - loop.time()) > 0:
                await asyncio.sleep(wait)
            bolt_request, _ = self.queue.popleft()
            self._track(loop.create_task(self._dispatch(bolt_request)))
            self.dispatched += 1
            await asyncio.sleep(0)  # the next dispatch starts in the loop's next turn, after its I/O

    async def _dispatch(self, bolt_request: AsyncBoltRequest) -> None:
        try:
            response = await self.bolt_app.async_dispatch(bolt_request)
        except Exception:
            log.exception("a Slack request acknowledged early failed in Bolt")
            return
        if response is not None and response.status >= 400:
            log.warning("a Slack request acknowledged early was refused by Bolt (HTTP %s)", response.status)

    async def drain(self, timeout: float = 5.0) -> None:
        """Let queued dispatches start (shutdown); what they spawn is the listeners' to track."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pending and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(list(self.pending), timeout=left)
