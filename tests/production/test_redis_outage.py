"""Redis (a server this test owns) stops while `golive serve --http` runs, then comes back.

Locks and delivery dedup fall back to in-process ones: commands keep working, a second run of the
same phase is still refused, the degradation is logged once and shown in /golive status, readiness
says why it is 503; when Redis returns the bot uses it again, by itself.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import ClientSession, ClientTimeout

from bench.harness import running_bot
from tests.production.bot_client import SlackUser, flatten
from tests.production.servers import RedisServer

WARNING = "Redis is unreachable"


async def latest_status_text(user: SlackUser, timeout: float = 15.0) -> str:
    """Ask for /golive status and return the text of the status message the bot posts or updates."""
    before = len(user.stub.calls)
    await user.command("status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for method, args in user.stub.calls[before:]:
            if method in ("chat.postMessage", "chat.update") and "go-live status" in flatten(args):
                return flatten(args)
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no status message; log:\n{user.bot.log()}")


def degrade_events(log: str) -> list[dict[str, object]]:
    events = []
    for line in log.splitlines():
        if line.startswith("{") and '"golive.degrade"' in line:
            events.append(json.loads(line))
    return events


async def test_redis_outage_degrades_and_recovers(redis_server: RedisServer) -> None:
    with running_bot(redis_url=redis_server.url, extra_env={"GOLIVE_LOG_LEVEL": "INFO"}) as (bot, stub):
        async with ClientSession(timeout=ClientTimeout(total=30)) as http:
            user = SlackUser(http, bot, stub)
            assert (await user.ready())[0] == 200
            assert WARNING not in await latest_status_text(user)

            redis_server.stop()
            body = await user.wait_ready(503)
            assert "redis" in body["reason"], body

            # runs still take a lock (in-process now): a second `run slow` meanwhile is refused
            await user.command("run slow")
            await asyncio.sleep(0.5)
            busy = await user.reply(await user.command("run slow"))
            assert "already running" in busy.lower(), busy
            text = await latest_status_text(user)
            assert WARNING in text and "in-process" in text, text

            warnings = [e for e in degrade_events(bot.log()) if e["level"] == "WARNING"]
            assert len(warnings) == 1 and warnings[0]["component"] == "redis", warnings
            assert warnings[0]["event"] == "degraded"

            redis_server.start()
            await user.wait_ready(200)
            deadline = time.monotonic() + 20
            while WARNING in (text := await latest_status_text(user)):
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.5)
            assert any(e["event"] == "recovered" for e in degrade_events(bot.log()))
            # the run started during the outage finished normally
            from bot.store import open_store

            store = open_store(None, sqlite_path=bot.log_path.parent / "golive.db")
            try:
                deadline = time.monotonic() + 15
                while [r.status for r in store.runs(limit=10) if r.selector == "slow"] != ["finished"]:
                    assert time.monotonic() < deadline, store.runs(limit=10)
                    await asyncio.sleep(0.2)
            finally:
                store.close()
