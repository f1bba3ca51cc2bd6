"""A held lock's refresher stops when the block ends, even if the lock store swallows the cancellation.

Python 3.11's `asyncio.wait_for` (redis-py wraps every command's write in it) returns the result instead of
raising when a cancel lands just as the write completes: a refresher stopped only by `cancel()` then kept
refreshing forever, and leaving `holding()` waited for it forever (a `run` whose reply never came)."""

from __future__ import annotations

import asyncio

from bot.coordination.locks import LocalLocks, holding


class SwallowingLocks(LocalLocks):
    """In-process locks whose first refresh, when cancelled mid-call, returns as if nothing happened (what
    redis-py does on Python 3.11 when the cancel meets a completed write); later refreshes are instant."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes = 0
        self.swallowed = 0
        self.refreshing = asyncio.Event()
        self.kept_on = asyncio.Event()  # refreshed again after the swallowed cancel: the refresher lives on

    async def refresh(self, key: str, token: str, ttl: float = 30.0) -> bool:
        self.refreshes += 1
        self.refreshing.set()
        if self.swallowed:
            self.kept_on.set()
            return await super().refresh(key, token, ttl)
        try:
            await asyncio.get_running_loop().create_future()  # the round trip, cut short only by a cancel
        except asyncio.CancelledError:
            self.swallowed += 1
        return await super().refresh(key, token, ttl)


async def test_leaving_the_block_stops_a_refresher_whose_cancel_was_swallowed() -> None:
    locks = SwallowingLocks()

    async def hold() -> None:
        async with holding(locks, "run:leaks", "tok", ttl=0.03):
            await locks.refreshing.wait()  # the block ends while the refresh is on its way

    holder = asyncio.create_task(hold())
    kept_on = asyncio.create_task(locks.kept_on.wait())
    await asyncio.wait([holder, kept_on], return_when=asyncio.FIRST_COMPLETED)
    try:
        assert holder.done() and not kept_on.done(), "the refresher kept refreshing and the block never ended"
    finally:
        holder.cancel()
        kept_on.cancel()
        await asyncio.wait([holder, kept_on])
    assert locks.swallowed == 1
    assert await locks.holder("run:leaks") is None  # released
    refreshes = locks.refreshes
    for _ in range(5):  # several refresh periods (10 ms each): a refresher still alive would refresh again
        await asyncio.sleep(0.03)
    assert locks.refreshes == refreshes
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_a_cancelled_holder_still_releases_and_stays_cancelled() -> None:
    locks = LocalLocks()
    inside = asyncio.Event()

    async def hold() -> None:
        async with holding(locks, "run:day1", "tok", ttl=30):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await inside.wait()
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
    assert await locks.holder("run:day1") is None
