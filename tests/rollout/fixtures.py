"""The rollout tests' store and target, shared with the tests that drive rollouts of several services
(tests/services): import them into a conftest or a test module to use them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.demo import DemoServer, serve_target
from bot.store import Store, open_store
from tests.conftest import PG_URL


@pytest.fixture
def store(pg_schema: str) -> Iterator[Store]:
    from bot.rollout import records  # noqa: F401  (registers the rollout tables before migrate)

    opened = open_store(PG_URL, schema=pg_schema)
    yield opened
    opened.close()


@pytest.fixture
async def target() -> AsyncIterator[DemoServer]:
    """The demo target with its rate limiter off (the watch and the traffic below are one client)."""
    server = serve_target(rate_limit=0)
    yield server
    await server.astop()
