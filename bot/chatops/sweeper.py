"""A periodic background job that must never die: a failing round is logged and the next one runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from checks.masking import mask


async def every(interval: float, job: Callable[[], Awaitable[Any]], *, name: str, log: logging.Logger) -> None:
    """Run `job` every `interval` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception as exc:  # never let the sweeper die
            log.warning("%s failed: %s", name, mask(f"{type(exc).__name__}: {exc}"))
