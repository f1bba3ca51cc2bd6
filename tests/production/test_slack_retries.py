"""Slack Web API trouble, against a local stub: 429 waits the Retry-After it was given, a 5xx is
retried, both then succeed; the client the bot really uses (bot.slack.client) is the one tested."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.slack.client import build_web_client


class FlakySlack:
    def __init__(self, failures: list[web.Response]) -> None:
        self.failures = failures
        self.times: list[float] = []

    async def post_message(self, request: web.Request) -> web.Response:
        self.times.append(time.monotonic())
        if self.failures:
            return self.failures.pop(0)
        return web.json_response({"ok": True, "channel": "C1", "ts": "1.000001"})


async def serve(fake: FlakySlack) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/api/chat.postMessage", fake.post_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/"  # type: ignore[union-attr]


@pytest.fixture
async def rate_limited() -> AsyncIterator[tuple[FlakySlack, str]]:
    fake = FlakySlack([web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": "1"})])
    runner, url = await serve(fake)
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def server_error() -> AsyncIterator[tuple[FlakySlack, str]]:
    fake = FlakySlack([web.Response(status=503, text="upstream unavailable")])
    runner, url = await serve(fake)
    yield fake, url
    await runner.cleanup()


async def test_429_honours_retry_after(rate_limited: tuple[FlakySlack, str]) -> None:
    fake, url = rate_limited
    client = build_web_client("xoxb-test-token-0000", url)
    response = await client.chat_postMessage(channel="C1", text="hello")
    assert response["ok"] and len(fake.times) == 2
    assert fake.times[1] - fake.times[0] >= 0.95  # waited the Retry-After, not less


async def test_5xx_is_retried(server_error: tuple[FlakySlack, str]) -> None:
    fake, url = server_error
    client = build_web_client("xoxb-test-token-0000", url)
    response = await client.chat_postMessage(channel="C1", text="hello")
    assert response["ok"] and len(fake.times) == 2
