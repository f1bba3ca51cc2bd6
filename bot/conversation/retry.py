"""Retrying one chat call: a 429 waits the Retry-After the service asked for, a 5xx or a dropped
connection backs off exponentially; anything else (4xx: the request itself is wrong) fails at once."""

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
    attempts: int = 4
    backoff: float = 0.5  # first 5xx wait; doubles each time
    max_wait: float = 30.0

    async def call(self, make: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run `make()` until it succeeds, a non-retryable error comes, or the attempts are spent."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await make()
            except Retryable as exc:
                if attempt == self.attempts:
                    raise
                wait = exc.after if exc.after is not None else self.backoff * 2 ** (attempt - 1)
                wait = min(max(wait, 0.0), self.max_wait)
                log.info("%s: %s; retry %d/%d in %.2fs", what, exc, attempt, self.attempts - 1, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by Slack or the Bot Connector)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
