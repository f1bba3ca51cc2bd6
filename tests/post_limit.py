"""The per-channel posting limit both chat stand-ins enforce (Slack's and Teams'): a burst, then one
message per interval, per channel (GCRA). One implementation, so the Slack and Teams delivery tests
face the same rule."""

from __future__ import annotations

import time
from collections.abc import Callable


class PostLimit:
    def __init__(self, limit: tuple[int, float] | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit  # (burst, seconds per message), or None for no limit
        self.clock = clock  # a virtual clock in tests that must not sleep
        self._tat: dict[str, float] = {}

    def retry_after(self, channel: str) -> float:
        """Seconds until a post to `channel` would be accepted (what the service puts in Retry-After)."""
        if self.limit is None:
            return 0.0
        burst, per = self.limit
        now = self.clock()
        return max(0.0, max(self._tat.get(channel, now), now) - (burst - 1) * per - now)

    def throttled(self, channel: str) -> bool:
        """True when a post to `channel` now would exceed the limit (and then it does not count)."""
        if self.limit is None:
            return False
        burst, per = self.limit
        now = self.clock()
        tat = max(self._tat.get(channel, now), now)
        if tat - now > (burst - 1) * per + 0.02:  # 20 ms of slack for the time on the wire
            return True
        self._tat[channel] = tat + per
        return False
