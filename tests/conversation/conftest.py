"""The shared behaviour suite runs every test once per transport: Slack, Teams and the in-memory one."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.conftest import REDIS_URL
from tests.conversation.harness import Harness, harness_for, write_checklist

TRANSPORTS = ["memory", "slack", "teams"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/conversation/" in item.nodeid:
            item.add_marker(pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def checklist(tmp_path: Path) -> Checklist:
    return load_checklist(write_checklist(tmp_path / "conversation.yml", redis_url=REDIS_URL,
                                          dead_port=closed_port()))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_path=tmp_path / "golive.db")
    yield store
    store.close()


@pytest.fixture(params=TRANSPORTS)
async def harness(request: pytest.FixtureRequest, store: Store, checklist: Checklist,
                  isolated_env: None) -> AsyncIterator[Harness]:
    async with harness_for(request.param, store, checklist) as harness:
        yield harness
