"""Background loops (the Slack and Teams recovery sweeps, a run's heartbeat) are stopped with repeated cancels:
one cancel can be lost (Python 3.11's asyncio.wait_for, which redis-py uses, swallows a cancel that lands as its
inner call completes), and a loop that lost it would hold a shutdown or a run's end forever."""

from __future__ import annotations

import asyncio

from bot.coordination.stopping import stop_task


async def test_a_loop_that_swallows_a_cancel_is_still_stopped() -> None:
    swallowed: list[int] = []

    async def loop() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not swallowed:  # what a lost cancellation looks like from outside: the loop goes on
                    swallowed.append(1)
                    continue
                raise

    task = asyncio.create_task(loop(), name="sweep")
    await asyncio.sleep(0)
    await stop_task(task, grace=0.01)
    assert task.cancelled() and swallowed == [1]


async def test_stopping_nothing_or_a_finished_task_returns_at_once() -> None:
    async def done() -> int:
        return 1

    task = asyncio.create_task(done())
    await task
    await stop_task(task)
    await stop_task(None)
    assert task.result() == 1
