"""Slack Socket Mode, supervised: `SocketModeConnection` alone decides when to open a connection.

Who reconnects, and why it is golive and not slack_sdk: the SDK's client is built with
`auto_reconnect_enabled=False`, and the reconnect it would still start on Slack's `disconnect` message
(`connect_to_new_endpoint`) is handed to the supervisor. The SDK's own policy cannot meet what
`golive serve` promises:
- its `connect()` retries forever at a fixed interval, with a traceback each time, and cannot tell a
  rejected app token (`invalid_auth`: stop, and say which setting to fix) from a Slack outage (retry);
- its monitor notices a dropped socket (RST, FIN) only at its next tick, a ping interval later, and a
  silent one only after four ping intervals;
- run next to a second watchdog, both reacted to the same drop: two `apps.connections.open` calls.
The SDK client keeps what it does well: the WebSocket session, its pings (and aiohttp's heartbeat),
receiving envelopes and dispatching them to Bolt, which acks them. The supervisor opens
(`apps.connections.open`, then the SDK's `connect()` with that URL, then waits for Slack's `hello`),
watches the session every `check_interval`, and on a drop opens again at once; failed opens back off
with jitter. One task, one open at a time: never two opens for one drop.

The app token is checked by the first open, as the bot token is by `auth.test`: a permanent refusal
ends `golive serve` with exit code 2 and one line naming SLACK_APP_TOKEN and where to fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMessage
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.diagnostics.degradations import Degradations, degradations
from checks.masking import mask

log = logging.getLogger("golive.slack.socket")

FIX_APP_TOKEN = ("api.slack.com/apps → your app → Basic Information → App-Level Tokens: generate a token with "
                 "the connections:write scope and set SLACK_APP_TOKEN to it")
PERMANENT_ERRORS = {"invalid_auth", "not_authed", "missing_scope", "account_inactive", "token_revoked",
                    "token_expired", "not_allowed_token_type", "no_permission", "invalid_token"}
NOT_CONNECTED = "Slack Socket Mode not connected yet"


class SocketModeFatal(Exception):
    """Slack refused the app token for good: retrying cannot help. One line, never the token."""


@dataclass(frozen=True)
class SocketTiming:
    """How the connection is watched. Tests inject short intervals; the defaults suit production."""

    ping_interval: float = 5.0
    """slack_sdk (and aiohttp's heartbeat) ping this often; no pong or message for 1.5 of them is a drop."""
    check_interval: float = 0.25
    """How often the session is inspected: a closed socket is noticed (and reopened) within this."""
    hello_timeout: float = 10.0
    """An open without Slack's `hello` within this long failed (retried with backoff)."""
    backoff_base: float = 1.0
    backoff_max: float = 30.0

    @property
    def stale_after(self) -> float:
        return 1.5 * self.ping_interval


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`invalid_auth`), or "" when the answer carried none (an HTML 502 page)."""
    try:
        return str(exc.response.get("error") or "")
    except (AttributeError, ValueError):
        return ""


def app_token_problem(exc: SlackApiError) -> str | None:
    """The one-line message when apps.connections.open refused the token for good, else None."""
    error = slack_error(exc)
    if error not in PERMANENT_ERRORS:
        return None
    if error == "missing_scope":
        needed = exc.response.get("needed") or "connections:write"
        return (f"SLACK_APP_TOKEN lacks the {needed} scope (apps.connections.open: missing_scope); "
                f"fix it at {FIX_APP_TOKEN}")
    return f"Slack rejected SLACK_APP_TOKEN (apps.connections.open: {error}); fix it at {FIX_APP_TOKEN}"


def describe(exc: BaseException) -> str:
    """A short, masked, single-line reason for logs and probes."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        error = slack_error(exc)
        return mask(f"apps.connections.open answered {status}" + (f" {error}" if error else ""))
    text = str(exc).strip().splitlines()
    return mask(f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)


class _SupervisedClient(SocketModeClient):
    """slack_sdk's aiohttp client with its own reconnect decisions off (see the module docstring)."""

    on_reconnect_request: Callable[[str], None] | None = None

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        # The SDK calls this on Slack's `disconnect` message even with auto-reconnect off; the supervisor
        # has already seen that message (on_message_listeners) and is the one that reconnects.
        if self.on_reconnect_request is not None:
            self.on_reconnect_request("slack_sdk asked for a new connection")


class _BoltHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode adapter (its `handle()` turns envelopes into Bolt requests and sends the acks),
    over the supervised client instead of one with the SDK's reconnect policy."""

    def __init__(self, app: AsyncApp, client: SocketModeClient) -> None:  # no super(): it would build a 2nd client
        self.app = app
        self.app_token = client.app_token
        self.client = client
        client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]  # slack_sdk types it loosely


class _TracebackOnce(logging.Filter):
    """slack_sdk logs a traceback for every failed WebSocket attempt; keep the first, then one line each."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            if self.shown:
                record.exc_info = None
                record.exc_text = None
            self.shown = True
        return True


class SocketModeConnection:
    """Opens, watches and reopens the Socket Mode connection; `check()` is the readiness probe."""

    def __init__(self, app: AsyncApp, app_token: str, web_client: AsyncWebClient, *,
                 timing: SocketTiming | None = None, registry: Degradations | None = None,
                 on_connected: Callable[[], None] | None = None) -> None:
        self.timing = timing or SocketTiming()
        self.registry = registry or degradations
        self.app_token = app_token
        self.on_connected = on_connected
        # apps.connections.open gets no retry handlers of its own: the supervisor's backoff is the only retry
        self.open_client = AsyncWebClient(base_url=web_client.base_url, timeout=10, ssl=web_client.ssl,
                                          proxy=web_client.proxy, retry_handlers=[])
        sdk_log = logging.getLogger("golive.slack.socket.sdk")
        if not any(isinstance(f, _TracebackOnce) for f in sdk_log.filters):
            sdk_log.addFilter(_TracebackOnce())
        self.client = _SupervisedClient(app_token=app_token, web_client=web_client, logger=sdk_log,
                                        auto_reconnect_enabled=False, ping_interval=self.timing.ping_interval)
        self.client.on_reconnect_request = self._sdk_reconnect_request
        self.client.on_message_listeners.append(self._on_ws_message)
        self.handler = _BoltHandler(app, self.client)
        self.state = "connecting"  # connecting | connected | reconnecting | failed | closed
        self.last_error = ""
        self.fatal: SocketModeFatal | None = None
        self.opens = 0
        self.drops = 0
        self.connected_once = asyncio.Event()
        self.ended = asyncio.Event()  # set when the supervisor gave up for good (fatal)
        self._hello = asyncio.Event()
        self._drop = asyncio.Event()
        self._drop_reason = ""
        self._last_activity = 0.0
        self._traceback_shown = False
        self._task: asyncio.Task[None] | None = None

    # -- what the SDK tells us ------------------------------------------------------------------------
    async def _on_ws_message(self, message: WSMessage) -> None:
        self._last_activity = time.time()
        try:
            data = json.loads(message.data)
        except (TypeError, ValueError):
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "hello":
            self._hello.set()
        elif kind == "disconnect":
            self._request_reconnect(f"Slack sent disconnect ({data.get('reason', 'no reason')})")

    def _sdk_reconnect_request(self, reason: str) -> None:
        log.debug("ignored slack_sdk's reconnect request (%s): the supervisor reconnects", reason)

    def _request_reconnect(self, reason: str) -> None:
        if not self._drop.is_set():
            self._drop_reason = reason
            self._drop.set()

    # -- state, for probes ----------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why the current session is not delivering, or None while it looks healthy."""
        client = self.client
        if client.closed:
            return "Socket Mode client is closed"
        session = client.current_session
        if session is None:
            return "no WebSocket session"
        if session.closed:
            exc = session.exception()
            code = session.close_code
            detail = f"code {code}" + (f", {describe(exc)}" if exc else "")
            return f"the WebSocket was closed ({detail})"
        for attr, what in (("message_receiver", "receive loop"), ("message_processor", "message processor")):
            task = getattr(client, attr, None)
            if task is not None and task.done():
                return f"the Socket Mode {what} has stopped"
        last = max(float(client.last_ping_pong_time or 0.0), self._last_activity)
        silent = time.time() - last
        if silent > self.timing.stale_after:
            return f"no pong or message from Slack for {silent:.1f}s"
        return None

    def not_ready(self) -> str | None:
        """The readiness reason, or None when connected and delivering."""
        last = f" (last error: {self.last_error})" if self.last_error else ""
        if self.fatal is not None:
            return f"Slack Socket Mode stopped: {self.fatal}"
        if not self.connected_once.is_set():
            return NOT_CONNECTED + last
        if self.state != "connected":
            return f"Slack Socket Mode disconnected, reconnecting{last}"
        reason = self.problem()
        return f"Slack Socket Mode disconnected ({reason}), reconnecting" if reason else None

    async def check(self) -> None:
        """Readiness probe: raises with the reason while not connected."""
        reason = self.not_ready()
        if reason:
            raise ConnectionError(reason)

    def startup_reason(self) -> str | None:
        """Why start-up is not finished: the first connection has not said hello yet."""
        if self.connected_once.is_set():
            return None
        return self.not_ready()

    # -- the supervisor -------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="slack-socket-mode")
        return self._task

    async def run(self) -> None:
        failures = 0
        while not self.client.closed:
            try:
                await self._open()
            except SocketModeFatal as exc:
                self.fatal = exc
                self.state = "failed"
                self.last_error = str(exc)
                self.ended.set()
                return
            except Exception as exc:
                failures += 1
                self.last_error = describe(exc)
                delay = self._backoff(failures, exc)
                log.warning("Slack Socket Mode: opening a connection failed (%s); attempt %d, retrying in %.1fs",
                            self.last_error, failures, delay, exc_info=None if self._traceback_shown else exc,
                            extra={"event": "socket_open_failed", "attempt": failures})
                self._traceback_shown = True
                await asyncio.sleep(delay)
                continue
            failures = 0
            reason = await self._watch()
            if self.client.closed:
                return
            self._dropped(reason)

    def _backoff(self, failures: int, exc: BaseException) -> float:
        """Exponential backoff with jitter; Slack's Retry-After when it rate-limits the open."""
        if isinstance(exc, SlackApiError) and slack_error(exc) == "ratelimited":
            with contextlib.suppress(TypeError, ValueError):
                return float(exc.response.headers.get("Retry-After", 0)) + random.uniform(0, 1)
        cap = min(self.timing.backoff_max, self.timing.backoff_base * 2 ** (failures - 1))
        return random.uniform(cap / 2, cap)

    async def _open(self) -> None:
        """apps.connections.open, the WebSocket (slack_sdk's connect(), one URL), then Slack's hello."""
        self._hello.clear()
        self._drop.clear()
        await self._drop_session()
        self.opens += 1
        try:
            response = await self.open_client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            problem = app_token_problem(exc)
            if problem:
                raise SocketModeFatal(problem) from None
            raise
        self.client.wss_uri = response["url"]
        try:
            async with asyncio.timeout(self.timing.hello_timeout):
                await self.client.connect()  # type: ignore[no-untyped-call]  # slack_sdk leaves SocketModeClient untyped
                await self._hello.wait()
        except TimeoutError:
            what = "no hello from Slack" if self.client.current_session is not None else "no WebSocket"
            raise ConnectionError(f"{what} within {self.timing.hello_timeout:g}s of opening") from None
        self._last_activity = time.time()
        first = not self.connected_once.is_set()
        self.state = "connected"
        self.connected_once.set()
        self.registry.recover("slack_socket", "Slack Socket Mode is connected again")
        log.info("Slack Socket Mode connected%s", "" if first else " again",
                 extra={"event": "socket_connected", "opens": self.opens})
        if first and self.on_connected is not None:
            self.on_connected()

    async def _drop_session(self) -> None:
        """Close the previous session quickly (a silent peer would hold aiohttp's close handshake for 10 s)."""
        session = self.client.current_session
        if session is not None and not session.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.close(), 0.5)

    async def _watch(self) -> str:
        """Wait until the session drops; the reason why."""
        while True:
            reason = self.problem()
            if reason:
                return reason
            try:
                await asyncio.wait_for(self._drop.wait(), self.timing.check_interval)
                return self._drop_reason
            except TimeoutError:
                pass

    def _dropped(self, reason: str) -> None:
        self.state = "reconnecting"
        self.drops += 1
        self.last_error = reason
        processor = self.client.message_processor
        if processor is not None and processor.done():  # a new session would queue into a dead consumer
            self.client.message_processor = asyncio.ensure_future(self.client.process_messages())  # type: ignore[no-untyped-call]  # slack_sdk leaves SocketModeClient untyped
        self.registry.degrade("slack_socket", f"Slack Socket Mode reconnecting: {reason}", cause=reason)
        log.warning("Slack Socket Mode connection dropped (%s); reconnecting now", reason,
                    extra={"event": "socket_dropped", "drops": self.drops})

    async def close(self) -> None:
        """Stop supervising and close the session, quickly (well within a 5 s shutdown budget)."""
        self.state = "closed"
        self.client.closed = True  # no SDK loop starts anything new from here
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop_session()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.client.close()  # type: ignore[no-untyped-call]  # slack_sdk leaves SocketModeClient untyped
        if not self.client.aiohttp_client_session.closed:
            await self.client.aiohttp_client_session.close()
        self.registry.recover("slack_socket", "Slack Socket Mode closed")
