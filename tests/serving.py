"""`golive serve` inside a test: started on a free port, ready once /healthz/startup says so, stopped after."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bench.hostile_target import HostileTarget
from bot.commands.common import Context
from bot.commands.serve import serve
from bot.serving.server import start_web_app
from checks.spec import Checklist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serving(settings: Any, checklist: Checklist, *, http: bool = True) -> AsyncIterator[str]:
    """Yields the base URL of a running `golive serve`; a server that fails to start raises its error."""
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve(Context(settings, checklist), http=http, host="127.0.0.1", port=port,
                                     stop=stop))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_started(base, task)
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def wait_started(base: str, task: asyncio.Task[None]) -> None:
    """Until /healthz/startup answers 200; a serve task that ended instead raises its error."""
    async with aiohttp.ClientSession(base) as client:
        for _ in range(200):
            if task.done():
                task.result()
            try:
                async with client.get("/healthz/startup") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("golive serve did not become ready within 10 s")


IN_FLIGHT = 32 * 1024 * 1024
"""What may be in flight when a client hangs up on an endless body: loopback socket buffers (a few MiB when
autotuned) and aiohttp's write buffer. Far below the 1 GiB the hostile target is asked to send."""


@asynccontextmanager
async def hostile_target(**kwargs: Any) -> AsyncIterator[tuple[str, HostileTarget]]:
    """The hostile local target (bench.hostile_target) on a free port: its base URL and itself."""
    target = HostileTarget(**kwargs)
    runner, port = await start_web_app(target.app)
    try:
        yield f"http://127.0.0.1:{port}", target
    finally:
        target.release()
        await runner.cleanup()
