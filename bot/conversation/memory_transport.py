"""The in-memory transport registered like Slack and Teams (bot.conversation.registry), so a third
transport is shown to be one package plus one registry line: it serves POST /memory/messages (a command
as text) and GET /memory/said (the whole conversation), and announces in its one channel. Tests register
it with `registry.register("memory", "bot.conversation.memory_transport:TRANSPORT")`."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.announcements.events import Notifier
from bot.conversation.memory import MemoryBot, MemoryConversation
from bot.conversation.pacing import Pacer
from bot.conversation.registry import ServeEnv
from bot.conversation.router import EventRouter
from bot.serving.server import RouteAdder
from bot.settings import Settings
from bot.store import Store

CHANNEL = "C-memory"


class MemoryServing:
    ready_later = False
    ended: asyncio.Event | None = None
    fatal: str | None = None

    def __init__(self, env: ServeEnv) -> None:
        self.bot = MemoryBot(env.desk or env.chatops, MemoryConversation(env.store, pacer=env.pacer), CHANNEL)
        self.routes: list[RouteAdder] = [self.add_routes]

    def add_routes(self, app: web.Application) -> None:
        async def receive(request: web.Request) -> web.Response:
            body = await request.json()
            await self.bot.receive(str(body.get("text", "")), user=str(body.get("user", "")),
                                   key=str(body.get("key", "")))
            return await said(request)

        async def said(request: web.Request) -> web.Response:
            return web.json_response([asdict(s) for s in self.bot.conversation.said])

        app.router.add_post("/memory/messages", receive)
        app.router.add_get("/memory/said", said)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.bot.tasks.cancel_all()

    def where(self, host: str, port: int) -> str:
        return f"memory transport on http://{host}:{port}/memory/messages"


class Memory:
    name = "memory"
    hint = "nothing (registered by tests) for the in-memory transport"

    def enabled(self, settings: Settings) -> bool:
        return True

    def check(self, settings: Settings, *, http: bool) -> None:
        return None

    def pacer(self, settings: Settings) -> Pacer:
        return Pacer(burst=1, interval=0.0)

    def notifier(self, settings: Settings, store: Store, pacer: Pacer | None) -> Notifier | None:
        return EventRouter(MemoryConversation(store, pacer=pacer), CHANNEL)

    def build(self, env: ServeEnv) -> Any:
        return MemoryServing(env)


TRANSPORT = Memory()
