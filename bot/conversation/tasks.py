"""The bot's own background work (runs after an ack or an HTTP answer), so shutdown can interrupt it
cleanly and tests can wait for it. One tracker per transport bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


class TaskTracker:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def track_current(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.track(task)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        return self.track(asyncio.create_task(coro, name=name))

    async def drain(self) -> None:
        """Wait until every tracked task is done (tests)."""
        while pending := [t for t in self.tasks if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def cancel_all(self, timeout: float = 10.0) -> None:
        pending = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(pending, timeout=timeout)
