"""Slash-command ack latency: bursts of 50 concurrent signed `/golive status` requests, over real HTTP,
to `golive serve --http` running in its own process against a local Slack Web API stub.

The figure is the time until Slack would see the HTTP 200 (the ack). The work each command starts
(reading the store, posting the status message to the stub) runs in the same bot process; each burst
is measured until all 50 status messages are posted, then the next burst starts (50 concurrent, not
an unbounded offered load). Also reports how long a whole burst took to be answered, and the bot's
RSS idle (after start-up) and busy (peak while the bursts run).

Run: python -m bench.ack_latency
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from aiohttp import ClientSession, ClientTimeout, TCPConnector

from bench.harness import BotProcess, RssSampler, SlackStub, percentile, post_signed, running_bot, slash_command

CONCURRENCY = 50
BURSTS = int(os.environ.get("BENCH_BURSTS", "2" if os.environ.get("BENCH_QUICK") else "10"))
TEXT = "status"


async def burst(http: ClientSession, bot: BotProcess, stub: SlackStub, n: int) -> list[float]:
    url = bot.base_url + "/slack/events"
    bodies = [slash_command(TEXT, response_url=stub.response_url(f"b{i}")) for i in range(n)]
    results = await asyncio.gather(*(post_signed(http, url, body) for body in bodies))
    bad = [status for status, _ in results if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {n} commands were not acknowledged with 200: {bad[:5]}\n{bot.log()}")
    return [ms for _, ms in results]


def posted(stub: SlackStub) -> int:
    return len(stub.methods("chat.postMessage")) + len(stub.methods("chat.update"))


async def drain(stub: SlackStub, expected: int, timeout: float = 30.0) -> float:
    """Wait until `expected` status messages reached the stub; seconds it took."""
    started = time.perf_counter()
    while posted(stub) < expected:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"only {posted(stub)} of {expected} status messages were posted")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def measure(bot: BotProcess, stub: SlackStub) -> dict[str, float]:
    """BURSTS bursts of CONCURRENCY commands; each burst's commands finish before the next starts."""
    connector = TCPConnector(limit=CONCURRENCY * 2)
    async with ClientSession(timeout=ClientTimeout(total=30), connector=connector) as http:
        await burst(http, bot, stub, 10)  # warm up: first imports, connection pools, caches
        await drain(stub, 10)
        await asyncio.sleep(0.5)
        acks: list[float] = []
        completions: list[float] = []
        with RssSampler(bot) as rss:
            for _ in range(BURSTS):
                before = posted(stub)
                started = time.perf_counter()
                acks += await burst(http, bot, stub, CONCURRENCY)
                await drain(stub, before + CONCURRENCY)
                completions.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.2)
    memory = bot.memory_kb()
    return {
        "requests": len(acks),
        "p50_ms": round(statistics.median(acks), 1),
        "p90_ms": round(percentile(acks, 90), 1),
        "p99_ms": round(percentile(acks, 99), 1),
        "max_ms": round(max(acks), 1),
        "burst_done_ms_median": round(statistics.median(completions), 1),
        "burst_done_ms_max": round(max(completions), 1),
        "busy_rss_mb": round(max(rss.peak_kb, memory.get("VmRSS", 0)) / 1024, 1),
        "peak_rss_mb": round(memory.get("VmHWM", 0) / 1024, 1),
    }


def main() -> dict[str, float]:
    with running_bot() as (bot, stub):
        time.sleep(0.3 if os.environ.get("BENCH_QUICK") else 1.0)
        idle = bot.memory_kb()["VmRSS"]
        figures = {"concurrency": CONCURRENCY, "bursts": BURSTS, "idle_rss_mb": round(idle / 1024, 1),
                   **asyncio.run(measure(bot, stub))}
    print(f"slash-command ack latency, {figures['bursts']} bursts x {CONCURRENCY} concurrent signed "
          f"`/golive {TEXT}` over HTTP: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms ({figures['requests']} requests)")
    print(f"  each burst of {CONCURRENCY} fully answered (every status message posted): median "
          f"{figures['burst_done_ms_median']} ms, max {figures['burst_done_ms_max']} ms")
    print(f"bot process RSS: idle {figures['idle_rss_mb']} MB, busy {figures['busy_rss_mb']} MB "
          f"(peak {figures['peak_rss_mb']} MB)")
    return figures


if __name__ == "__main__":
    main()
