"""Fixtures of the Slack tests: the Slack Web API stub, a test checklist, a store of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.conftest import PG_URL, REDIS_URL
from tests.slack.support import SlackStub

FIXTURES = Path(__file__).parent / "fixtures"
GROUPS = {"S0DEVOPS": ["U0DEVOPS", "U0DEVOPS2"]}


@pytest.fixture
def checklist_path(monkeypatch: pytest.MonkeyPatch, redis_prefix: str) -> Path:
    monkeypatch.setenv("TEST_DATABASE_URL", PG_URL)
    monkeypatch.setenv("TEST_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("TEST_REDIS_PREFIX", redis_prefix)
    return FIXTURES / "golive_test.yml"


@pytest.fixture
def checklist(checklist_path: Path) -> Checklist:
    return load_checklist(checklist_path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_path=tmp_path / "golive.db")
    yield store
    store.close()


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    stub = await SlackStub(groups=GROUPS).start()
    yield stub
    await stub.close()
