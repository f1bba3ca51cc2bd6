"""Fixtures of the web view's tests: a store of the test's own, the web test checklist, a linker with a
clock the test moves, and the view served by the bot's own aiohttp app builder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.serving.server import Health, build_web_app, start_web_app
from bot.store import Store, open_store
from bot.web import links
from bot.web.links import Linker
from bot.web.routes import view_routes
from checks.loader import load_checklist
from checks.spec import Checklist

FIXTURES = Path(__file__).parent / "fixtures"
LINK_KEY = b"0123456789abcdef-test-link-key"
START = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def linker(clock: Clock) -> Iterator[Linker]:
    """The process's linker for the test (chat renderers pick it up), reset afterwards."""
    made = Linker("http://golive.test", LINK_KEY, ttl=3600, clock=clock)
    links.configure(made)
    yield made
    links.reset()


@pytest.fixture
def checklist() -> Checklist:
    return load_checklist(FIXTURES / "webview.yml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_path=tmp_path / "golive.db")
    yield store
    store.close()


@pytest.fixture
async def view_url(store: Store, checklist: Checklist, linker: Linker) -> AsyncIterator[str]:
    """The base URL of the bot's web app with the view mounted, as `golive serve` mounts it."""
    runner, port = await start_web_app(build_web_app(Health(store), view_routes(store, checklist, lambda: linker)))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
