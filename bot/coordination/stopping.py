"""Stopping a background loop for certain. Python 3.11's `asyncio.wait_for` (redis-py wraps every command in it)
can swallow a cancel that lands just as its inner call completes; a loop that lost its cancel runs on, and a
shutdown that cancelled it once and awaited it waits forever. So the cancel is repeated until the task ends."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("golive.tasks")


async def stop_task(task: asyncio.Task[Any] | None, *, grace: float = 2.0) -> None:
    """Cancel `task` and wait until it ends, cancelling it again every `grace` seconds while it runs on."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
        if not task.done():
            log.warning("%s ignored a cancel (a lost cancellation); cancelling it again", task.get_name())
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s ended with %s: %s", task.get_name(), type(exc).__name__, exc)
