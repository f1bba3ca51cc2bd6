"""Retrying one chat call: a 429 waits the Retry-After the service asked for, for as long as the waits
fit a time budget (a harsher limit than documented takes longer, it does not drop the message); a 5xx or
a dropped connection backs off exponentially, a few times; anything else (4xx: the request itself is
wrong) fails at once. The sleep is injected, so tests run on a virtual clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("golive.conversation")


class Retryable(Exception):
    """Raised by a transport for an answer worth retrying; `after` is the server's Retry-After, if any."""

    def __init__(self, message: str, *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


@dataclass
class RetryPolicy:
    attempts: int = 4  # tries for failures that say nothing about when to come back (5xx, dropped connection)
    backoff: float = 0.5  # first 5xx wait; doubles each time
    max_wait: float = 30.0
    budget: float = 60.0  # seconds of Retry-After one call may wait in all
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def call(self, make: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run `make()` until it succeeds, a non-retryable error comes, the attempts (5xx) or the time
        budget (429) are spent."""
        waited, blind = 0.0, 0
        while True:
            try:
                return await make()
            except Retryable as exc:
                if exc.after is None:
                    blind += 1
                    if blind >= self.attempts:
                        raise
                    wait = self.backoff * 2 ** (blind - 1)
                else:
                    wait = exc.after
                wait = min(max(wait, 0.0), self.max_wait)
                if waited + wait > self.budget:
                    raise
                waited += wait
                log.info("%s: %s; retry in %.2fs (%.1fs of %.0fs waited)", what, exc, wait, waited, self.budget)
                await self.sleep(wait)


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by Slack or the Bot Connector)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
