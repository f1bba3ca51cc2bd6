"""A run's message posted while the store is down: the message is in the channel, so where it is gets recorded
as soon as the store answers again. The sweep after an outage finds a run's message only through that record;
without it the message said 'running' forever (seen in tests/production/test_store_outage.py under load)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.conversation import base
from bot.conversation.memory import MemoryConversation
from bot.store import Store, StoreUnavailable, open_store


class StoreDownFor(Store):
    """The real SQLite store, refusing to record messages for its first `refusals` attempts (the outage)."""

    refusals = 0

    def remember_message(self, **kwargs: Any) -> None:  # type: ignore[override]  # same signature, by keyword
        if self.refusals > 0:
            self.refusals -= 1
            raise StoreUnavailable("PostgreSQL store is unreachable (test outage)")
        super().remember_message(**kwargs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(sqlite_path=tmp_path / "golive.db")
    opened.__class__ = StoreDownFor
    yield opened
    opened.close()


async def test_a_message_posted_during_an_outage_is_recorded_once_the_store_answers(
        store: StoreDownFor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "REMEMBER_FIRST_PAUSE", 0.01)  # the backoff, shortened (its shape is the same)
    store.refusals = 3
    conversation = MemoryConversation(store)
    ref = await conversation.post("run abc: running", channel="C1", subject="run-abc", purpose="parent")
    assert ref is not None  # the post itself succeeded: the caller keeps its message
    assert await conversation.find("run-abc") is None  # not recorded yet: the store is down
    for _ in range(200):  # retried with backoff; counted loop turns, each a short sleep
        if not base.REMEMBERING:
            break
        await asyncio.sleep(0.05)
    found = await conversation.find("run-abc")
    assert found is not None and (found.channel, found.ts) == (ref.channel, ref.ts)
    assert store.refusals == 0
