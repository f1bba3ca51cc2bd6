"""Fixtures of the ChatOps tests: the Slack tests' checklist, and a store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.conftest import PG_URL, REDIS_URL

CHECKLIST = Path(__file__).resolve().parents[1] / "slack" / "fixtures" / "golive_test.yml"


@pytest.fixture
def checklist(monkeypatch: pytest.MonkeyPatch, redis_prefix: str) -> Checklist:
    monkeypatch.setenv("TEST_DATABASE_URL", PG_URL)
    monkeypatch.setenv("TEST_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("TEST_REDIS_PREFIX", redis_prefix)
    return load_checklist(CHECKLIST)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_path=tmp_path / "golive.db")
    yield store
    store.close()
