"""Driving a running `golive serve --http` like Slack does, and reading what it answered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from aiohttp import ClientSession

from bench.harness import REQUESTER, BotProcess, SlackStub, button_click, post_signed, slash_command


class SlackUser:
    """Sends signed commands and clicks; each carries its own response_url so replies can be matched."""

    def __init__(self, http: ClientSession, bot: BotProcess, stub: SlackStub) -> None:
        self.http, self.bot, self.stub = http, bot, stub

    async def command(self, text: str, *, user: str = REQUESTER) -> str:
        key = uuid.uuid4().hex[:10]
        status, _ = await post_signed(self.http, self.bot.base_url + "/slack/events",
                                      slash_command(text, user=user, response_url=self.stub.response_url(key)))
        assert status == 200, f"/golive {text} was not acknowledged: HTTP {status}"
        return key

    async def click(self, action_id: str, value: str, *, user: str, message_ts: str) -> str:
        key = uuid.uuid4().hex[:10]
        body = button_click(action_id, value, user=user, message_ts=message_ts,
                            response_url=self.stub.response_url(key))
        status, _ = await post_signed(self.http, self.bot.base_url + "/slack/events", body)
        assert status == 200, f"click {action_id} was not acknowledged: HTTP {status}"
        return key

    async def reply(self, key: str, timeout: float = 15.0) -> str:
        """The text (and block text) the bot sent to this request's response_url."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for args in self.stub.methods("response_url"):
                if args.get("_key") == key:
                    return flatten(args)
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no answer to request {key} in {timeout}s; bot log:\n{self.bot.log()}")

    async def ready(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.bot.base_url + "/healthz/ready") as resp:
            return resp.status, await resp.json()

    async def wait_ready(self, expect: int, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status, body = 0, {}
        while time.monotonic() < deadline:
            status, body = await self.ready()
            if status == expect:
                return body
            await asyncio.sleep(0.2)
        raise AssertionError(f"/healthz/ready stayed {status} {body}, expected {expect}")


def flatten(message: dict[str, Any]) -> str:
    """All text of a message: `text` plus every string inside its blocks."""
    parts = [str(message.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    blocks = message.get("blocks")
    walk(json.loads(blocks) if isinstance(blocks, str) else blocks)
    return "\n".join(p for p in parts if p)
