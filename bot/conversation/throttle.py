"""At most one chat.update per message per interval (chat.update is tier 3, ~50/min), with a
trailing update so the last progress is shown, and a final update that always goes out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class ThrottledUpdate:
    def __init__(self, interval: float, send: Callable[[], Awaitable[None]]) -> None:
        self.interval = max(0.0, interval)
        self._send = send
        self._last = float("-inf")
        self._pending: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.sent = 0

    def request(self) -> None:
        """Ask for an update; it goes out now or at the end of the interval, carrying the latest state."""
        if self._closed:
            return
        if self._pending is not None and not self._pending.done():
            return
        delay = max(0.0, self._last + self.interval - time.monotonic())
        self._pending = asyncio.create_task(self._later(delay))

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._send_now()

    async def _send_now(self) -> None:
        async with self._lock:
            if self._closed:
                return
            self._last = time.monotonic()
            self.sent += 1
            await self._send()

    async def cancel(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pending

    async def final(self, send: Callable[[], Awaitable[None]]) -> None:
        """Drop any pending progress and send the final state, after any update in flight; nothing
        is sent after it."""
        self._closed = True
        await self.cancel()
        async with self._lock:
            self._last = time.monotonic()
            self.sent += 1
            await send()
