"""Ack first, work later: Slack's 3-second ack for slash commands and button clicks, answered in well
under a millisecond of CPU, however busy the bot is.

Going through Bolt costs ~3 ms of CPU per request before the ack (request parsing, middleware, kwargs
injection and a deep copy of the request for each lazy listener), and the work those requests start
runs on the same event loop. A burst of 50 commands therefore queues the 50th ack behind ~150 ms of
other requests' work. For the two request kinds whose ack is always an empty 200 (`/golive` slash
commands and block_actions clicks) this endpoint verifies the signature itself, answers 200 at once,
and hands the request to Bolt in a background task once the burst has passed (no Slack request for
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
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from checks.runner import StartGate

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
        self.gate = StartGate()  # one deferred dispatch per loop turn: a burst's work never queues an ack

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
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(headers))
        task = loop.create_task(self._dispatch_later(bolt_request))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return web.Response(status=200)

    async def _dispatch_later(self, bolt_request: AsyncBoltRequest) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - self.last_arrival < self.quiet and loop.time() - started < self.max_wait:
            await asyncio.sleep(self.quiet / 3)
        await self.gate.turn()
        try:
            response = await self.bolt_app.async_dispatch(bolt_request)
        except Exception:
            log.exception("a Slack request acknowledged early failed in Bolt")
            return
        if response is not None and response.status >= 400:
            log.warning("a Slack request acknowledged early was refused by Bolt (HTTP %s)", response.status)

    async def drain(self, timeout: float = 5.0) -> None:
        """Let scheduled dispatches start (shutdown); what they spawn is the listeners' to track."""
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=timeout)
