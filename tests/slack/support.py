"""Test doubles for Slack, reusable by any test that needs to see what the bot says in Slack.

- `SlackStub`: a local HTTP server standing in for the Slack Web API (point `AsyncWebClient(base_url=...)`
  or `GOLIVE_SLACK_API_URL` at `stub.api_url`). It records every call (method + JSON/form payload),
  answers like Slack (ok, channel, ts; members for usergroups.users.list), serves response_url posts,
  can inject 429/5xx answers, and checks every message it receives against Block Kit and our limits
  and for leaked secrets (`stub.problems`, `stub.assert_clean()`).
- `SlackSigner`: signs request bodies exactly as Slack does (v0 HMAC-SHA256 of "v0:{ts}:{body}").
- Payload builders for slash commands, block_actions and view_submission, and `post_signed`.
- `running_bot`: the whole Slack bot (Bolt app + aiohttp server + store) on a free port, in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack.scopes import METHOD_SCOPES, bot_scopes
from tests.post_limit import PostLimit

BOT_TOKEN = "xoxb-1111111111-2222222222-golivetestbottoken"
SIGNING_SECRET = "8f1e2d3c4b5a69788796a5b4c3d2e1f0"
APP_TOKEN = "xapp-1-A111-2222-golivetestapptoken"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN)

CHANNEL = "C0RELEASE"
WITNESS = "golive audit head"
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")
MAX_BLOCKS_JSON = 12_000
JSON_FIELDS = ("blocks", "view", "attachments", "metadata")


@dataclass
class Call:
    method: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return str(self.payload.get("text") or "")

    @property
    def blocks_json(self) -> str:
        return json.dumps(self.payload.get("blocks") or [])


def block_problems(where: str, payload: dict[str, Any], *, view: bool = False) -> list[str]:
    """What Slack (or our own limits) would object to in a message or modal payload."""
    problems: list[str] = []
    blocks = payload.get("blocks") or []
    if not view and not str(payload.get("text") or "").strip():
        problems.append(f"{where}: no top-level `text` fallback")
    if len(blocks) > (100 if view else 50):
        problems.append(f"{where}: {len(blocks)} blocks")
    size = len(json.dumps(blocks))
    if size > MAX_BLOCKS_JSON:
        problems.append(f"{where}: blocks JSON is {size} characters")
    for i, raw in enumerate(blocks):
        if raw.get("type") == "section" and len((raw.get("text") or {}).get("text", "")) > 3000:
            problems.append(f"{where}: block {i} section text over 3000 characters")
        try:
            block = Block.parse(raw)
            if block is None or block.to_dict() != raw:
                problems.append(f"{where}: block {i} does not round-trip through slack_sdk: {raw}")
        except Exception as exc:
            problems.append(f"{where}: block {i} invalid: {exc}")
    return problems


class SlackStub:
    def __init__(self, *, groups: dict[str, list[str]] | None = None, secrets: Iterable[str] = SECRETS,
                 post_limit: tuple[int, float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.groups = groups or {}
        self.refuse_replies: str | None = None  # a Slack error code every thread reply gets
        self._limit = PostLimit(post_limit, clock)  # (burst, seconds per message) per channel for chat.postMessage
        self.secrets = [s for s in secrets if s]
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self._ts = itertools.count(1)
        self._failures: dict[str, list[tuple[int, dict[str, str], dict[str, Any] | str]]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.socket_envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.socket_acks: list[dict[str, Any]] = []
        # Tokens as Slack knows them: a method refuses any other exactly as Slack does (see `_refusal`).
        self.bot_tokens: set[str] = {BOT_TOKEN}
        self.app_tokens: set[str] = {APP_TOKEN}
        self.revoked: set[str] = set()
        self.granted_scopes: list[str] = list(bot_scopes())  # what auth.test lists in x-oauth-scopes
        self.channels: dict[str, dict[str, Any]] = {
            CHANNEL: {"id": CHANNEL, "name": "release", "is_member": True, "is_private": False}}

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> SlackStub:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str | None = None) -> str:
        return f"{self.base}/response/{name or uuid.uuid4().hex[:8]}"

    # -- fault injection -------------------------------------------------------------------------
    def fail_next(self, method: str, *, status: int = 429, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | str | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` get this HTTP answer (429 carries Retry-After: 1). A str body
        is sent as text/html, as a proxy or load balancer in front of Slack answers."""
        headers = headers if headers is not None else ({"Retry-After": "1"} if status == 429 else {})
        body = body or {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
        self._failures.setdefault(method, []).extend([(status, headers, body)] * times)

    def error_next(self, method: str, error: str, times: int = 1) -> None:
        """The next calls of `method` answer 200 with ok:false and this Slack error code."""
        self.fail_next(method, status=200, headers={}, body={"ok": False, "error": error}, times=times)

    def clear_failures(self) -> None:
        self._failures.clear()

    # -- reading what the bot did ------------------------------------------------------------------
    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> set[str]:
        return {c.method for c in self.calls}

    def posts(self, *, thread_ts: str | None = None, top_level: bool = False, witness: bool = False) -> list[Call]:
        """Messages posted; golive's audit-head witnesses (bot.authority.witness) only with `witness=True`."""
        posts = [c for c in self.of("chat.postMessage") if witness or WITNESS not in str(c.payload.get("text"))]
        if top_level:
            return [c for c in posts if not c.payload.get("thread_ts")]
        if thread_ts is not None:
            return [c for c in posts if c.payload.get("thread_ts") == thread_ts]
        return posts

    def updates(self, ts: str) -> list[Call]:
        return [c for c in self.of("chat.update") if c.payload.get("ts") == ts]

    def latest(self, ts: str) -> Call | None:
        """The message at `ts` as it now reads: its last update, else its post."""
        updates = self.updates(ts)
        if updates:
            return updates[-1]
        return next((c for c in self.of("chat.postMessage") if c.payload.get("ts") == ts), None)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; calls: "
                             f"{[(c.method, c.text[:80]) for c in self.calls]}")

    def assert_clean(self) -> None:
        """Every message valid and within limits, no secret anywhere, every method declared with its scope."""
        assert not self.problems, "\n".join(self.problems)
        undeclared = {c.method.split("!")[0] for c in self.calls}
        undeclared -= {"response_url", "apps.connections.open"}
        undeclared -= set(METHOD_SCOPES)
        assert not undeclared, f"methods called but missing from bot.slack.scopes.METHOD_SCOPES: {undeclared}"

    # -- HTTP handlers -----------------------------------------------------------------------------
    def _check(self, method: str, raw: str, payload: dict[str, Any]) -> None:
        for secret in self.secrets:
            if secret in raw:
                self.problems.append(f"{method}: a secret appears in the payload")
        if method in MESSAGE_METHODS and not payload.get("delete_original"):
            self.problems += block_problems(method, payload)
        if method == "views.open":
            view = payload.get("view") or {}
            self.problems += block_problems("views.open", view, view=True)
            try:
                View(**view).validate_json()
            except Exception as exc:
                self.problems.append(f"views.open: invalid view: {exc}")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        payload: dict[str, Any] = dict(request.query)
        if raw:
            if request.content_type == "application/json":
                payload.update(json.loads(raw))
            else:
                payload.update(dict(urllib.parse.parse_qsl(raw)))
        for key in JSON_FIELDS:
            if isinstance(payload.get(key), str):
                with contextlib.suppress(ValueError):
                    payload[key] = json.loads(payload[key])
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}" and method != "apps.connections.open":
            self.problems.append(f"{method}: called without the bot token")
        refusal = self._refusal(method, request.headers.get("Authorization", ""))
        if refusal:
            self.calls.append(Call(f"{method}!{refusal}", payload))
            return web.json_response({"ok": False, "error": refusal})
        if method == "chat.postMessage" and self._limit.throttled(str(payload.get("channel"))):
            self.calls.append(Call(f"{method}!429", payload))
            wait = str(max(1, math.ceil(self._limit.retry_after(str(payload.get("channel"))))))  # whole seconds
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": wait})
        if method == "chat.postMessage" and self.refuse_replies and payload.get("thread_ts"):
            self.calls.append(Call(f"{method}!{self.refuse_replies}", payload))
            return web.json_response({"ok": False, "error": self.refuse_replies})
        queued = self._failures.get(method)
        if queued:
            status, headers, body = queued.pop(0)
            self.calls.append(Call(f"{method}!{status}", payload))
            if isinstance(body, str):
                return web.Response(text=body, status=status, headers=headers, content_type="text/html")
            return web.json_response(body, status=status, headers=headers)
        self.calls.append(Call(method, payload))
        self._check(method, raw, payload)
        return web.json_response(self._answer(method, payload),
                                 headers={"x-oauth-scopes": ",".join(self.granted_scopes)} if method == "auth.test"
                                 else {})

    def _refusal(self, method: str, authorization: str) -> str | None:
        """Slack's answer to a call whose bearer token it will not take, or None. apps.connections.open takes
        only an app-level (xapp-) token, every other method only the bot token; no token is `not_authed`, one
        Slack never issued `invalid_auth`, a revoked one `token_revoked`, the other kind `not_allowed_token_type`."""
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        if not token:
            return "not_authed"
        if token in self.revoked:
            return "token_revoked"
        if token not in self.bot_tokens | self.app_tokens:
            return "invalid_auth"
        wanted = self.app_tokens if method == "apps.connections.open" else self.bot_tokens
        return None if token in wanted else "not_allowed_token_type"

    def _answer(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {"ok": True, "url": "https://golive-test.slack.com/", "team": "golive", "user": "golive",
                    "team_id": "T0GOLIVE", "user_id": "U0GOLIVEBOT", "bot_id": "B0GOLIVE"}
        if method == "chat.postMessage":
            payload["ts"] = ts  # so tests can find a message by the ts it was given
            return {"ok": True, "channel": payload.get("channel"), "ts": ts,
                    "message": {"text": payload.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": payload.get("channel"), "ts": payload.get("ts"), "text": payload.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **(payload.get("view") or {})}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.groups.get(str(payload.get("usergroup")), [])}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "conversations.history":  # what was posted in the channel, newest first (one page)
            posted = [c.payload for c in self.of("chat.postMessage")
                      if c.payload.get("channel") == payload.get("channel") and "ts" in c.payload]
            return {"ok": True, "messages": [{"type": "message", "text": p.get("text"), "ts": p["ts"]}
                                             for p in reversed(posted)], "has_more": False}
        if method == "conversations.info":
            channel = self.channels.get(str(payload.get("channel")))
            return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}
        if method == "users.info":
            user = str(payload.get("user"))
            if user.startswith("U0GONE"):
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "name": user.lower(), "deleted": user.startswith("U0LEFT"),
                                         "is_bot": user.startswith("U0BOT")}}
        return {"ok": False, "error": "unknown_method"}

    async def _response_url(self, request: web.Request) -> web.Response:
        raw = await request.text()
        payload = json.loads(raw) if raw else {}
        payload["response_url_name"] = request.match_info["name"]
        self.calls.append(Call("response_url", payload))
        self._check("response_url", raw, payload)
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then forward every envelope put on `socket_envelopes`."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})

        async def pump() -> None:
            while True:
                await ws.send_json(await self.socket_envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            sender.cancel()
        return ws


class SlackSigner:
    """Signs like Slack: X-Slack-Signature = v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""

    def __init__(self, secret: str = SIGNING_SECRET) -> None:
        self.secret = secret

    def signature(self, body: str, timestamp: int) -> str:
        digest = hmac.new(self.secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
        return f"v0={digest}"

    def headers(self, body: str, *, timestamp: int | None = None, json_body: bool = False) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            "Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": self.signature(body, ts),
        }


# -- request bodies, as Slack sends them ---------------------------------------------------------
def slash_command(text: str, *, response_url: str, user: str = "U0RELEASE", channel: str = CHANNEL,
                  command: str = "/golive", trigger_id: str | None = None) -> str:
    return urllib.parse.urlencode({
        "token": "legacy-verification-token", "team_id": "T0GOLIVE", "team_domain": "golive-test",
        "channel_id": channel, "channel_name": "release", "user_id": user, "user_name": user.lower(),
        "command": command, "text": text, "api_app_id": "A0GOLIVE", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id or f"{uuid.uuid4().int % 10**12}.trigger",
    })


def block_action(action_id: str, value: str, *, user: str, response_url: str, message_ts: str = "1.000100",
                 channel: str = CHANNEL, action_ts: str | None = None, trigger_id: str | None = None,
                 block_id: str = "b") -> str:
    payload = {
        "type": "block_actions", "api_app_id": "A0GOLIVE", "token": "legacy-verification-token",
        "team": {"id": "T0GOLIVE", "domain": "golive-test"}, "user": {"id": user, "username": user.lower(),
                                                                   "team_id": "T0GOLIVE"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": trigger_id or f"{uuid.uuid4().int % 10**12}.trigger",
        "channel": {"id": channel, "name": "release"}, "message": {"ts": message_ts, "type": "message"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                     "text": {"type": "plain_text", "text": "click"},
                     "action_ts": action_ts or f"{time.time():.6f}"}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def view_submission(callback_id: str, *, user: str, private_metadata: str, values: dict[str, Any],
                    view_id: str = "V0000001") -> str:
    payload = {
        "type": "view_submission", "api_app_id": "A0GOLIVE", "token": "legacy-verification-token",
        "team": {"id": "T0GOLIVE", "domain": "golive-test"}, "user": {"id": user, "team_id": "T0GOLIVE"},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.trigger",
        "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": private_metadata,
                 "hash": uuid.uuid4().hex[:12], "state": {"values": values}, "team_id": "T0GOLIVE",
                 "app_id": "A0GOLIVE", "bot_id": "B0GOLIVE", "blocks": []},
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


@dataclass
class Answer:
    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


async def post_signed(url: str, body: str, *, signer: SlackSigner | None = None, timestamp: int | None = None,
                      headers: dict[str, str] | None = None, signed: bool = True) -> Answer:
    """POST `body` to the bot as Slack would; `seconds` is the time until the HTTP answer (the ack)."""
    sent = dict((signer or SlackSigner()).headers(body, timestamp=timestamp)) if signed else \
        {"Content-Type": "application/x-www-form-urlencoded"}
    sent.update(headers or {})
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session, session.post(url, data=body.encode(), headers=sent) as resp:
        text = await resp.text()
    return Answer(resp.status, text, time.perf_counter() - started)


# -- the whole bot, in-process -------------------------------------------------------------------
@dataclass
class RunningBot:
    url: str
    stub: SlackStub
    bot: Any  # bot.slack.runtime.SlackBot
    store: Any  # bot.store.Store
    runner: web.AppRunner
    health: Any

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    async def command(self, text: str, *, user: str = "U0RELEASE", channel: str = CHANNEL,
                      response: str | None = None) -> Answer:
        return await post_signed(self.events_url, slash_command(
            text, user=user, channel=channel, response_url=self.stub.response_url(response)))

    async def click(self, action_id: str, value: str, *, user: str, message_ts: str = "1.000100",
                    action_ts: str | None = None, response: str | None = None) -> Answer:
        return await post_signed(self.events_url, block_action(
            action_id, value, user=user, response_url=self.stub.response_url(response), message_ts=message_ts,
            action_ts=action_ts))

    async def stop(self) -> None:
        await self.bot.stop()
        await self.runner.cleanup()


def bot_settings(stub: SlackStub, *, redis_url: str | None = None, redis_prefix: str = "golive:",
                 progress_interval: float = 0.2, channel: str = CHANNEL, checklist: Path | None = None,
                 **extra: Any) -> Any:
    from bot.settings import Settings

    return Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    slack_api_url=stub.api_url, slack_channel=channel, progress_interval=progress_interval,
                    redis_url=redis_url, redis_prefix=redis_prefix, checklist=checklist, **extra)


@contextlib.asynccontextmanager
async def running_bot(stub: SlackStub, checklist: Any, store: Any, *, redis_url: str | None = None,
                      redis_prefix: str = "golive:", progress_interval: float = 0.2,
                      on_rollout_action: Any = None, start: bool = True, **settings: Any,
                      ) -> AsyncIterator[RunningBot]:
    """Start the bot as `golive serve --http` does (same builders), on a free port, against `stub`."""
    from bot.chatops.service import ChatOps
    from bot.coordination.locks import build_locks, redis_client
    from bot.serving.server import Health, build_web_app, start_web_app
    from bot.slack.http import slack_routes
    from bot.slack.runtime import build_slack_bot
    from checks.masking import masker

    masker.add(*SECRETS)
    settings = bot_settings(stub, redis_url=redis_url, redis_prefix=redis_prefix, progress_interval=progress_interval,
                            **settings)
    locks = build_locks(redis_url, redis_prefix)
    chatops = ChatOps(store, checklist, locks=locks)
    bot = build_slack_bot(settings, chatops, on_rollout_action=on_rollout_action)
    health_redis = redis_client(redis_url) if redis_url else None
    health = Health(store, health_redis)
    runner, port = await start_web_app(build_web_app(health, slack_routes(bot.app)), "127.0.0.1", 0)
    running = RunningBot(url=f"http://127.0.0.1:{port}", stub=stub, bot=bot, store=store, runner=runner,
                         health=health)
    try:
        if start:
            await bot.start()
            health.started = True
        yield running
    finally:
        await running.stop()
        await locks.close()
        if health_redis is not None:
            await health_redis.aclose()
