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
from bot.locks import LocalLocks
from bot.store import Store
from checks.spec import Checklist


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
        self.conversation = self.memory = MemoryConversation(store)
        self.bot = MemoryBot(self.chatops, self.memory, self.channel)

    async def receive(self, text: str, *, user: str, key: str) -> None:
        await self.bot.receive(text, user=user, key=key)

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

        return [card_text(card) for card in self.connector.private(f"29:{user}")]


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
    from bot.server import Health, build_web_app
    from bot.settings import Settings
    from bot.teams.app import build_teams, teams_routes
    from tests.teams.support import SCHEMA_PATH, Connector, assert_valid_card, cards_of

    connector = await Connector(limit=teams_limit).start()
    chatops = ChatOps(store, checklist, locks=LocalLocks())
    configured = Settings(_env_file=None, teams_anonymous=True, progress_interval=0.0).model_copy(
        update={"teams_service_url": connector.url, **(settings or {})})
    teams = build_teams(configured, chatops)
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
    """day1: one check that passes and one that fails; many: `failing` checks that all fail."""
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
""")
    return path
