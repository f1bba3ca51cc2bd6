"""Fixtures for the Teams transport: the real store (PostgreSQL schema of its own), Redis locks, a test
checklist whose checks hit the local PostgreSQL and Redis, the bot's aiohttp app with anonymous access
(tests only), and a local Bot Connector standing in for Teams' serviceUrl."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.chatops.service import ChatOps
from bot.coordination.locks import RedisLocks, redis_client
from bot.serving.server import Health, build_web_app
from bot.settings import Settings
from bot.store import Store, open_store
from bot.teams.app import TeamsTransport, build_teams, teams_routes
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.conftest import PG_URL, REDIS_URL
from tests.teams.support import CARD_TYPE, SCHEMA_PATH, Connector, assert_valid_card, cards_of

TECH_LEAD, DEVOPS, OUTSIDER = "aad-tech-lead", "aad-devops", "aad-outsider"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SDK's JWT middleware stores its claims under a plain-string request key; aiohttp warns each time."""
    for item in items:
        if "tests/teams/" in item.nodeid:
            item.add_marker(pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHECKLIST = """
name: teams-test
vars: {{T_PG_URL: '{pg}', T_REDIS_URL: '{redis}', T_DEAD_REDIS: 'redis://127.0.0.1:{dead}/0'}}
phases:
  - id: day1
    title: Environment
    checks:
      - {{id: db.connect, kind: postgres.query, criticality: critical, timeout: 5, params: {{url: '${{T_PG_URL}}'}}}}
      - {{id: redis.ping, kind: redis.ping, criticality: critical, timeout: 3, params: {{url: '${{T_REDIS_URL}}'}}}}
      - {{id: redis.roundtrip, kind: redis.roundtrip, needs: [redis.ping], params: {{url: '${{T_REDIS_URL}}'}}}}
  - id: day3
    title: Broken on purpose
    checks:
      - {{id: cache.ping, kind: redis.ping, criticality: critical, timeout: 2, params: {{url: '${{T_DEAD_REDIS}}'}}}}
signoffs:
  pre:
    title: Before deploy
    roles:
      - {{id: tech_lead, title: Tech Lead, members: [{tech}, U0TECHLEAD]}}
      - {{id: devops_lead, title: DevOps Lead, members: [{devops}]}}
rollout:
  provider: {{kind: dotenv, path: target.env}}
  phases:
    - {{id: phase-1, title: core only, flags: {{APP_PC_ENABLED: false}}, requires_phases: [day1],
       requires_checks: [db.connect]}}
    - {{id: phase-2, title: Partner Center on, flags: {{APP_PC_ENABLED: true}}, requires_phases: [day1],
       requires_checks: [db.connect]}}
"""


@pytest.fixture
def checklist(tmp_path: Path) -> Checklist:
    path = tmp_path / "teams.yml"
    (tmp_path / "target.env").write_text("ENVIRONMENT=production\nAPP_PC_ENABLED=false\n")
    path.write_text(CHECKLIST.format(pg=PG_URL, redis=REDIS_URL, dead=closed_port(), tech=TECH_LEAD, devops=DEVOPS))
    return load_checklist(path)


@pytest.fixture
def store(pg_schema: str) -> Iterator[Store]:
    store = open_store(PG_URL, schema=pg_schema)
    yield store
    store.close()


@pytest.fixture
async def chatops(store: Store, checklist: Checklist, redis_prefix: str) -> AsyncIterator[ChatOps]:
    locks = RedisLocks(redis_client(REDIS_URL), redis_prefix)
    yield ChatOps(store, checklist, locks=locks)
    await locks.close()


@pytest.fixture
def settings(isolated_env: None) -> Settings:
    return Settings(teams_anonymous=True, progress_interval=0.0)


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    connector = await Connector().start()
    yield connector
    await connector.close()


@pytest.fixture
def teams(settings: Settings, chatops: ChatOps) -> TeamsTransport:
    return build_teams(settings, chatops)


@dataclass
class TeamsClient:
    """Posts Activity JSON to the bot's /api/messages like Teams does."""

    http: TestClient
    transport: TeamsTransport
    service_url: str
    seen: list[dict[str, Any]] = field(default_factory=list)  # every card answered over HTTP

    async def post(self, activity: dict[str, Any], **headers: str) -> tuple[int, Any]:
        response = await self.http.post("/api/messages", json=activity, headers=headers)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        if isinstance(body, dict):
            self.seen += [card for reply in body.get("activities") or [] for card in cards_of(reply)]
            if body.get("type") == CARD_TYPE:
                self.seen.append(body["value"])
        return response.status, body

    async def replies(self, activity: dict[str, Any]) -> list[dict[str, Any]]:
        """The activities the bot answers with, for an expectReplies activity."""
        status, body = await self.post({**activity, "deliveryMode": "expectReplies"})
        assert status == 200, (status, body)
        return body["activities"]

    async def reply_cards(self, activity: dict[str, Any]) -> list[dict[str, Any]]:
        return [card for reply in await self.replies(activity) for card in cards_of(reply)]


@pytest.fixture
async def post_to() -> AsyncIterator[Any]:
    """Post one activity to a fresh web app built from a route adder: (status, body text)."""
    clients: list[TestClient] = []

    async def post(route: Any, activity: dict[str, Any], **headers: str) -> tuple[int, str]:
        app = web.Application()
        route(app)
        http = TestClient(TestServer(app, host="127.0.0.1"))
        await http.start_server()
        clients.append(http)
        response = await http.post("/api/messages", json=activity, headers=headers)
        return response.status, await response.text()

    yield post
    for http in clients:
        await http.close()


@pytest.fixture
async def client(teams: TeamsTransport, connector: Connector) -> AsyncIterator[TeamsClient]:
    app = build_web_app(Health(teams.bot.chatops.store), teams_routes(teams))  # the bot's one web server
    http = TestClient(TestServer(app, host="127.0.0.1"))
    await http.start_server()
    client = TeamsClient(http, teams, connector.url)
    yield client
    await teams.bot.drain()
    await http.close()
    if SCHEMA_PATH.is_file():  # every card the bot sent, whatever the test looked at
        for card in [*client.seen, *connector.cards()]:
            assert_valid_card(card)
