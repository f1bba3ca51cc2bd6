"""Per-channel pacing, so a burst of posts never meets the chat service's rate limit in the first place.

Slack allows about one message per second per channel with short bursts; Teams limits each bot per
conversation. `Pacer` is a GCRA (a token bucket without a timer): every post reserves the next free slot
of its channel and waits for it, so concurrent posters queue fairly and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Pacer:
    burst: int = 4
    interval: float = 1.0  # seconds between posts once the burst is spent
    _tat: dict[str, float] = field(default_factory=dict, repr=False)  # theoretical arrival time per channel

    def reserve(self, channel: str) -> float:
        """Reserve the next slot of `channel`; how long to wait for it (0 when it is free now)."""
        if self.interval <= 0:
            return 0.0
        now = time.monotonic()
        tat = max(self._tat.get(channel, now), now)
        wait = max(0.0, tat - (self.burst - 1) * self.interval - now)
        self._tat[channel] = tat + self.interval
        if len(self._tat) > 10_000:  # forget idle channels
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return wait

    async def wait(self, channel: str) -> None:
        delay = self.reserve(channel)
        if delay:
            await asyncio.sleep(delay)

    def would_wait(self, channel: str) -> bool:
        """Whether a post to `channel` now would have to wait (the follower groups evidence then)."""
        if self.interval <= 0:
            return False
        now = time.monotonic()
        return self._tat.get(channel, now) - (self.burst - 1) * self.interval > now


NO_PACING = Pacer(burst=1, interval=0.0)
SLACK_PACING = Pacer(burst=4, interval=1.1)
"""Slack's documented per-channel posting limit is about 1/s with short bursts; a little slower is safer."""
TEAMS_PACING = Pacer(burst=4, interval=0.5)
"""Teams allows a bot about 7 messages a second and 60 per 30 s in one conversation; a post every half
second after a burst of 4 stays under both."""


def pacer_for(default: Pacer, *, interval: float | None, burst: int) -> Pacer:
    """A fresh pacer with a transport's default interval unless the settings say otherwise. One per
    transport per process: everything that posts in a channel (runs, alerts, answers) shares it."""
    return Pacer(burst=burst if interval is not None else default.burst,
                 interval=default.interval if interval is None else interval)
