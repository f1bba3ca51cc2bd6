"""Lanes: which checks of a run may execute at the same time.

- `exclusive`: a check that changes the target (a POST that rewrites a row) runs alone, so no reader
  sees the target half-way through a write (a legacy/v1 comparison would otherwise flake).
- `quiet`: checks judged on a latency ceiling run together, but never alongside ordinary checks, and
  after the ordinary checks that are ready: golive's own load (TLS, JSON, subprocesses) must not be
  in the measurement.
- `normal`: everything else, concurrently.

Only admission is ordered here; a check waiting for its `needs:` holds no lane, so lanes never deadlock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

Lane = Literal["normal", "quiet", "exclusive"]


class Lanes:
    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self.running: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()

    def _may_enter(self, lane: Lane) -> bool:
        running, waiting = self.running, self.waiting
        if lane == "exclusive":
            return not any(running.values())
        if running["exclusive"] or waiting["exclusive"]:
            return False
        if lane == "normal":
            return not running["quiet"]
        return not running["normal"] and not waiting["normal"]

    @asynccontextmanager
    async def enter(self, lane: Lane) -> AsyncIterator[None]:
        async with self._cond:
            self.waiting[lane] += 1
            try:
                await self._cond.wait_for(lambda: self._may_enter(lane))
            finally:
                self.waiting[lane] -= 1
                self._cond.notify_all()  # a withdrawn waiter may unblock others
            self.running[lane] += 1
        try:
            yield
        finally:
            async with self._cond:
                self.running[lane] -= 1
                self._cond.notify_all()
