"""`golive serve` inside a test: started on a free port, ready once /healthz/startup says so, stopped after."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bot.commands.common import Context
from bot.commands.serve import serve
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
        async with aiohttp.ClientSession(base) as client:
            for _ in range(200):
                if task.done():
                    task.result()
                try:
                    async with client.get("/healthz/startup") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise TimeoutError("golive serve did not become ready within 10 s")
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
