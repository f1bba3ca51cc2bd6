"""Socket Mode reconnect time: how long after a drop golive calls apps.connections.open again, and how
long until Slack's hello arrives on the new connection, for each kind of drop (TCP RST, TCP FIN, a close
frame, Slack's `disconnect` message, a silent socket), with slack_sdk's real client supervised by
`SocketModeConnection`, against the Socket Mode stand-in (tests/slack/socket_standin.py) on localhost.
Also counts the opens: exactly one per drop is expected.

Run: python -m bench.socket_reconnect   (BENCH_QUICK=1 for fewer trials)
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.socket_mode import SocketModeConnection, SocketTiming
from tests.slack.socket_standin import SocketModeSlack
from tests.slack.support import APP_TOKEN, BOT_TOKEN

TRIALS = int(os.environ.get("BENCH_TRIALS", "3" if os.environ.get("BENCH_QUICK") else "10"))
SILENCE_PING = 1.0
KINDS = ("reset", "fin", "close_frame", "disconnect", "silence")


async def drop(slack: SocketModeSlack, kind: str) -> float:
    if kind == "reset":
        return slack.reset()
    if kind == "fin":
        return slack.fin()
    if kind == "close_frame":
        return await slack.close_frame()
    if kind == "disconnect":
        return await slack.send_disconnect()
    return slack.go_silent()


async def until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("no reconnect")
        await asyncio.sleep(0.002)


async def measure(kind: str) -> tuple[list[float], list[float], int]:
    slack = await SocketModeSlack().start()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    timing = SocketTiming(ping_interval=SILENCE_PING if kind == "silence" else 5.0)
    conn = SocketModeConnection(AsyncApp(client=client, request_verification_enabled=False), APP_TOKEN, client,
                                timing=timing)
    to_open: list[float] = []
    to_hello: list[float] = []
    try:
        conn.start()
        await until(lambda: conn.state == "connected")
        for _ in range(TRIALS):
            opens, hellos = len(slack.opens), len(slack.times("hello"))
            at = await drop(slack, kind)
            await until(lambda n=hellos: len(slack.times("hello")) > n and conn.state == "connected")
            to_open.append(slack.opens[opens] - at)
            to_hello.append(slack.times("hello")[hellos] - at)
            await asyncio.sleep(0.05 if kind != "silence" else 0.2)
        await asyncio.sleep(0.5)
        extra = len(slack.opens) - 1 - TRIALS
    finally:
        await conn.close()
        await slack.close()
    return to_open, to_hello, extra


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"


async def main() -> None:
    logging.getLogger("golive").setLevel(logging.ERROR)  # each drop logs a warning; the figures are the point
    print(f"Socket Mode reconnects, {TRIALS} drops each (silence: ping interval {SILENCE_PING:g}s, "
          "others: check interval 0.25s)")
    for kind in KINDS:
        to_open, to_hello, extra = await measure(kind)
        print(f"  {kind:<12} drop → apps.connections.open: {ms(to_open)} | drop → hello: {ms(to_hello)} | "
              f"extra opens: {extra}")


if __name__ == "__main__":
    asyncio.run(main())
