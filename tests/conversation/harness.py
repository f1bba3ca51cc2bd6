"""One harness per transport for the shared behaviour suite: the same questions ("what is in the
channel", "what did this person see privately") answered from the Slack stand-in's recorded Web API
calls, the Bot Connector stand-in's recorded activities, or the in-memory transport's lists."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.chatops.service import ChatOps
from bot.conversation.base import Conversation
from bot.conversation.memory import MemoryBot, MemoryConversation
from bot.conversation.pipeline import SignoffClick
from bot.conversation.retry import RetryPolicy
from bot.coordination.locks import LocalLocks
from bot.store import Store, StoreUnavailable
from checks.spec import Checklist

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
"""What a proxy in front of the platform answers: not the platform's JSON."""


async def no_wait(seconds: float) -> None:
    """The retry policy's sleep in these tests: the waits are counted, not slept."""
    WAITED.append(seconds)
    await asyncio.sleep(0)


WAITED: list[float] = []


@dataclass
class Msg:
    id: str
    thread: str | None  # the thread it was posted in (None: top level)
    history: list[str]  # as posted, then each edit
    buttons: int = 0  # buttons the message shows now

    @property
    def text(self) -> str:
        return self.history[-1]


class Harness:
    transport = ""
    channel = ""
    conversation: Conversation
    chatops: ChatOps

    def user(self, name: str) -> str:
        return name

    async def receive(self, text: str, *, user: str, key: str) -> None:
        raise NotImplementedError

    def public(self) -> list[Msg]:
        raise NotImplementedError

    def private(self, user: str) -> list[str]:
        raise NotImplementedError

    def fail_next(self, kind: str, status: int, *, retry_after: float | None = None, html: bool = False,
                  times: int = 1) -> None:
        """The platform answers the next `times` channel posts or updates ("post", "update") with `status`
        (a 429 with Retry-After, a 5xx; with `html`, a proxy's text/html page instead of its JSON)."""
        raise NotImplementedError

    def clear_failures(self) -> None:
        raise NotImplementedError

    async def click_signoff(self, user: str, request: str, role: str, decision: str, *, on: Msg, key: str) -> None:
        """`user` presses a sign-off button on message `on`."""
        raise NotImplementedError

    @contextlib.contextmanager
    def store_down(self) -> Any:
        """The store cannot be reached while inside: every query raises StoreUnavailable."""
        db = self.chatops.store.db

        def down(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailable("the store at db.internal:5432 did not answer")

        saved = {name: getattr(db, name) for name in ("execute", "fetchall", "fetchone", "transaction")}
        for name in saved:
            setattr(db, name, down)
        try:
            yield
        finally:
            for name, method in saved.items():
                setattr(db, name, method)

    def in_thread_of(self, parent: Msg) -> list[Msg]:
        """Replies under `parent`: in its thread (Slack, memory) or in the thread it sits in (a Teams card
        that answers a command is itself a reply in the command's thread)."""
        return [m for m in self.public() if m.id != parent.id and m.thread is not None
                and m.thread in (parent.id, parent.thread)]


# -- memory ---------------------------------------------------------------------------------------------
class MemoryHarness(Harness):
    transport = "memory"
    channel = "C-memory"

    def __init__(self, store: Store, checklist: Checklist) -> None:
        self.chatops = ChatOps(store, checklist, locks=LocalLocks())
        self.conversation = self.memory = MemoryConversation(store, retry=RetryPolicy(sleep=no_wait))
        self.bot = MemoryBot(self.chatops, self.memory, self.channel)

    async def receive(self, text: str, *, user: str, key: str) -> None:
        await self.bot.receive(text, user=user, key=key)

    def fail_next(self, kind: str, status: int, *, retry_after: float | None = None, html: bool = False,
                  times: int = 1) -> None:
        self.memory.fail_next(kind, status, after=retry_after, times=times)

    def clear_failures(self) -> None:
        self.memory.failures.clear()

    async def click_signoff(self, user: str, request: str, role: str, decision: str, *, on: Msg, key: str) -> None:
        await self.bot.click(SignoffClick(request, role, decision), user=user, key=key, on=on.id)  # type: ignore[arg-type]  # reason: a decision literal from the test

    def public(self) -> list[Msg]:
        return [Msg(s.id, s.thread, [s.text, *s.edits], buttons=s.current.count("[")) for s in self.memory.said
                if s.private_to is None]

    def private(self, user: str) -> list[str]:
        return [s.text for s in self.memory.said if s.private_to == user]


# -- Slack ----------------------------------------------------------------------------------------------
class SlackHarness(Harness):
    transport = "slack"

    def __init__(self, running: Any) -> None:
        from tests.slack.support import CHANNEL

        self.running = running
        self.stub = running.stub
        self.channel = CHANNEL
        self.chatops = running.bot.deps.chatops
        self.conversation = running.bot.deps.poster

    def user(self, name: str) -> str:
        return "U0" + name.upper()

    async def receive(self, text: str, *, user: str, key: str) -> None:
        from tests.slack.support import post_signed, slash_command

        body = slash_command(text, user=user, channel=self.channel, response_url=self.stub.response_url(user),
                             trigger_id=key)
        answer = await post_signed(self.running.events_url, body)
        assert answer.status == 200, answer
        await self.settle()

    def fail_next(self, kind: str, status: int, *, retry_after: float | None = None, html: bool = False,
                  times: int = 1) -> None:
        method = {"post": "chat.postMessage", "update": "chat.update"}[kind]
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.stub.fail_next(method, status=status, headers=headers, body=HTML_502 if html else None, times=times)

    def clear_failures(self) -> None:
        self.stub.clear_failures()

    async def click_signoff(self, user: str, request: str, role: str, decision: str, *, on: Msg, key: str) -> None:
        from bot.slack.ids import ACTION_SIGNOFF_APPROVE, ACTION_SIGNOFF_WITHDRAW
        from tests.slack.support import block_action, post_signed

        action = {"approve": ACTION_SIGNOFF_APPROVE, "withdraw": ACTION_SIGNOFF_WITHDRAW}[decision]
        body = block_action(action, f"{request}:{role}", user=user, response_url=self.stub.response_url(user),
                            message_ts=on.id, channel=self.channel, action_ts=key)
        answer = await post_signed(self.running.events_url, body)
        assert answer.status == 200, answer
        await self.settle()

    async def settle(self, quiet: float = 0.4, timeout: float = 20.0) -> None:
        """Until the bot's background work is done and Slack has heard nothing new for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if len(self.stub.calls) != seen:
                seen, since = len(self.stub.calls), time.monotonic()
            elif time.monotonic() - since >= quiet and not [t for t in self.running.bot.deps.tasks.tasks
                                                            if not t.done()]:
                return
        raise AssertionError("the Slack bot did not settle")

    @staticmethod
    def _text(payload: dict[str, Any]) -> str:
        return f"{payload.get('text') or ''} {json.dumps(payload.get('blocks') or [], ensure_ascii=False)}"

    def public(self) -> list[Msg]:
        msgs = []
        for call in self.stub.of("chat.postMessage"):
            ts = call.payload["ts"]
            latest = self.stub.latest(ts)
            buttons = json.dumps(latest.payload.get("blocks") or []).count('"type": "button"') if latest else 0
            msgs.append(Msg(ts, call.payload.get("thread_ts"),
                            [self._text(call.payload)] + [self._text(u.payload) for u in self.stub.updates(ts)],
                            buttons=buttons))
        return msgs

    def private(self, user: str) -> list[str]:
        ephemeral = [self._text(c.payload) for c in self.stub.of("chat.postEphemeral") if c.payload.get("user") == user]
        responses = [self._text(c.payload) for c in self.stub.of("response_url")
                     if c.payload.get("response_url_name") == user and c.payload.get("response_type") == "ephemeral"]
        return ephemeral + responses


# -- Teams ----------------------------------------------------------------------------------------------
@dataclass
class TeamsHarness(Harness):
    transport = "teams"
    http: TestClient = None  # type: ignore[assignment]
    connector: Any = None
    teams: Any = None
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    answered: dict[str, list[str]] = field(default_factory=dict)  # invoke answers, the clicker's alone

    def __post_init__(self) -> None:
        from tests.teams.support import CHANNEL

        self.channel = CHANNEL
        self.chatops = self.teams.bot.chatops
        self.conversation = self.teams.bot.conversation

    def user(self, name: str) -> str:
        return f"aad-{name}"

    async def receive(self, text: str, *, user: str, key: str) -> None:
        from tests.teams.support import message
        from tests.teams.support import user as sender

        if key not in self.activities:  # a redelivery is the very same activity
            self.activities[key] = message(text, self.connector.url, sender(user), activity_id=key)
        response = await self.http.post("/api/messages", json=self.activities[key])
        assert response.status in (200, 202), await response.text()
        await self.teams.bot.drain()

    def fail_next(self, kind: str, status: int, *, retry_after: float | None = None, html: bool = False,
                  times: int = 1) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.connector.fail_next({"post": "POST", "update": "PUT"}[kind], status=status, headers=headers,
                                 body=HTML_502 if html else None, times=times)

    def clear_failures(self) -> None:
        self.connector.failures.clear()

    async def click_signoff(self, user: str, request: str, role: str, decision: str, *, on: Msg, key: str) -> None:
        from bot.teams.ids import VERB_SIGNOFF
        from tests.teams.support import card_text, execute
        from tests.teams.support import user as sender

        if key not in self.activities:  # a redelivery is the very same activity
            self.activities[key] = execute(VERB_SIGNOFF, {"request": request, "role": role, "decision": decision},
                                           self.connector.url, sender(user), reply_to=on.id, activity_id=key)
        response = await self.http.post("/api/messages", json=self.activities[key])
        assert response.status == 200, await response.text()
        body = await response.json()
        value = body.get("value")
        self.answered.setdefault(user, []).append(card_text(value) if isinstance(value, dict) else str(value))
        await self.teams.bot.drain()

    def public(self) -> list[Msg]:
        from tests.teams.support import card_text, cards_of, find_actions

        msgs = []
        for call in self.connector.calls:
            if call.method != "POST" or call.conversation in self.connector.personal:
                continue
            thread = call.conversation.split(";messageid=")[1] if ";messageid=" in call.conversation else None
            edits = [c for c in self.connector.calls if c.method == "PUT" and c.activity_id == call.answered]
            latest = (edits[-1] if edits else call).body
            msgs.append(Msg(call.answered or "", thread,
                            [card_text(cards_of(c.body)) or str(c.body.get("text") or "") for c in [call, *edits]],
                            buttons=len(find_actions(cards_of(latest)))))
        return msgs

    def private(self, user: str) -> list[str]:
        from tests.teams.support import card_text

        return [card_text(card) for card in self.connector.private(f"29:{user}")] + self.answered.get(user, [])


@contextlib.asynccontextmanager
async def harness_for(transport: str, store: Store, checklist: Checklist, *, settings: dict[str, Any] | None = None,
                      slack_limit: tuple[int, float] | None = None,
                      teams_limit: tuple[int, float] | None = None) -> AsyncIterator[Harness]:
    if transport == "memory":
        yield MemoryHarness(store, checklist)
        return
    if transport == "slack":
        from tests.slack.support import SlackStub, running_bot

        stub = await SlackStub(post_limit=slack_limit).start()
        try:
            async with running_bot(stub, checklist, store, progress_interval=0.0,
                                   **(settings or {})) as running:
                harness = SlackHarness(running)
                yield harness
                stub.assert_clean()
        finally:
            await stub.close()
        return
    from bot.serving.server import Health, build_web_app
    from bot.settings import Settings
    from bot.teams.app import build_teams, teams_routes
    from tests.teams.support import SCHEMA_PATH, Connector, assert_valid_card, cards_of

    connector = await Connector(limit=teams_limit).start()
    chatops = ChatOps(store, checklist, locks=LocalLocks())
    configured = Settings(_env_file=None, teams_anonymous=True, progress_interval=0.0).model_copy(
        update={"teams_service_url": connector.url, **(settings or {})})
    teams = build_teams(configured, chatops)
    teams.bot.conversation.retry = RetryPolicy(sleep=no_wait)  # the waits are counted, not slept
    http = TestClient(TestServer(build_web_app(Health(store), teams_routes(teams)), host="127.0.0.1"))
    await http.start_server()
    try:
        yield TeamsHarness(http=http, connector=connector, teams=teams)
        if SCHEMA_PATH.is_file():
            for call in connector.calls:
                for card in cards_of(call.body):
                    assert_valid_card(card)
    finally:
        await teams.bot.stop()
        await http.close()
        await connector.close()


def write_checklist(path: Path, *, redis_url: str, dead_port: int, failing: int = 12) -> Path:
    """day1: one check that passes and one that fails; many: `failing` checks that all fail; a `pre`
    sign-off whose two roles are held by `tech` and `devops` (as each transport names them)."""
    many = "\n".join(f"      - {{id: fail.{i:02d}, kind: redis.ping, criticality: critical, timeout: 2, "
                     f"params: {{url: '${{T_DEAD}}'}}}}" for i in range(1, failing + 1))
    path.write_text(f"""
name: conversation-test
vars: {{T_REDIS: '{redis_url}', T_DEAD: 'redis://127.0.0.1:{dead_port}/0'}}
phases:
  - id: day1
    title: One good, one bad
    checks:
      - {{id: redis.ok, kind: redis.ping, criticality: critical, timeout: 3, params: {{url: '${{T_REDIS}}'}}}}
      - {{id: cache.down, kind: redis.ping, criticality: critical, timeout: 2, params: {{url: '${{T_DEAD}}'}}}}
  - id: day3
    title: Shares a check with day1
    checks:
      - {{id: cache.again, kind: redis.ping, timeout: 2, params: {{url: '${{T_DEAD}}'}}}}
  - id: many
    title: Everything broken
    checks:
{many}
signoffs:
  pre:
    title: Before deploy
    roles:
      - {{id: tech_lead, title: Tech Lead, members: [tech, U0TECH, aad-tech]}}
      - {{id: devops_lead, title: DevOps Lead, members: [devops, U0DEVOPS, aad-devops]}}
""")
    return path
