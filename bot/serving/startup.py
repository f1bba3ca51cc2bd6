"""`golive serve`'s start-up and the stop signals.

A SIGTERM (an orchestrator stopping the pod) or SIGINT (Ctrl-C) may arrive at any moment of start-up:
while modules import, while the checklist loads, while the store opens or Slack is asked about the token.
Left to their defaults, SIGTERM kills the process (exit -15, nothing cleaned up) and SIGINT raises
KeyboardInterrupt wherever the interpreter happens to be (a traceback). While start-up runs they are only
remembered; each step checks `stop_requested()` and ends the start-up with exit 0. Once the server's event
loop runs, its own handlers take over (bot.commands.serve).

Named start-up points (`reached`) make the moments observable: GOLIVE_STARTUP_TRACE=<file> appends each
point's name as it is reached (to see where a slow start spends its time), and GOLIVE_STARTUP_HOLD=<point>
waits at that point until a stop signal arrives, so a test can signal at exactly that moment instead of
guessing with sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HOLD_LIMIT = 60.0
"""A held start-up goes on after this long without a signal (a forgotten GOLIVE_STARTUP_HOLD never hangs)."""

_received: list[int] = []
_active: list[bool] = []  # non-empty while stop_signals_deferred() is in force


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """SIGTERM/SIGINT are remembered instead of acted on, until the block ends (the previous handlers are
    restored, so an in-process caller such as a test keeps its own)."""
    _received.clear()
    previous: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread: nothing to defer
            previous[sig] = signal.signal(sig, _remember)
    _active.append(True)
    try:
        yield
    finally:
        _active.pop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _received.clear()


def defer_again() -> None:
    """Back to remembering stop signals (after the event loop removed its own handlers), if start-up deferred
    them at all: the shutdown that follows is not cut short by a second signal."""
    if _active:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(ValueError):
                signal.signal(sig, _remember)


def stop_requested() -> bool:
    return bool(_received)


def _trace(point: str) -> None:
    path = os.environ.get("GOLIVE_STARTUP_TRACE")
    if path:
        with open(path, "a", encoding="utf-8") as trace:
            trace.write(point + "\n")


def reached(point: str) -> None:
    """A start-up point outside the event loop (see the module docstring)."""
    _trace(point)
    if os.environ.get("GOLIVE_STARTUP_HOLD") == point:
        deadline = time.monotonic() + HOLD_LIMIT
        while not _received and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal handler runs between these sleeps


async def reached_async(point: str, stop: asyncio.Event) -> bool:
    """A start-up point inside the event loop, where a stop signal sets `stop`. True when start-up should end
    here (a stop was asked for): the caller returns, and its clean-up closes what it opened."""
    _trace(point)
    if os.environ.get("GOLIVE_STARTUP_HOLD") == point:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HOLD_LIMIT)
    return stop.is_set()

