"""The one aiohttp web server of the bot: health probes plus whatever transports add (Slack's
/slack/events now, Teams' endpoint later), each added by a route function, so they compose.

Probes: /healthz/live (the process answers), /healthz/startup (start-up recovery is done),
/healthz/ready (the store answers, and Redis when configured; 503 with the reason otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.store import Store
from checks.masking import mask

RouteAdder = Callable[[web.Application], None]


class Health:
    def __init__(self, store: Store, redis: Any | None = None, *, timeout: float = 2.0) -> None:
        self.store = store
        self.redis = redis
        self.timeout = timeout
        self.started = False
        self.probes: dict[str, Callable[[], Awaitable[None]]] = {}  # more readiness probes, e.g. slack_socket
        self.startup_reason: Callable[[], str | None] | None = None  # what start-up still waits for

    async def ready(self) -> tuple[bool, dict[str, str]]:
        """(ready, per-dependency state); the reasons never include URLs with credentials."""
        state: dict[str, str] = {}
        try:
            await asyncio.wait_for(asyncio.to_thread(self.store.ping), self.timeout)
            state["store"] = "ok"
        except Exception as exc:
            state["store"] = _reason(exc)
        if self.redis is None:
            state["redis"] = "not configured"
        else:
            try:
                await asyncio.wait_for(self.redis.ping(), self.timeout)
                state["redis"] = "ok"
            except Exception as exc:
                state["redis"] = _reason(exc)
        for name, probe in self.probes.items():
            try:
                await asyncio.wait_for(probe(), self.timeout)
                state[name] = "ok"
            except Exception as exc:
                state[name] = _reason(exc)
        return all(v in ("ok", "not configured") for v in state.values()), state


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip().splitlines()
    return mask(f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)


def health_routes(health: Health) -> RouteAdder:
    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        ok, state = await health.ready()
        if ok:
            return web.json_response({"status": "ready", **state})
        reason = "; ".join(f"{k}: {v}" for k, v in state.items() if v not in ("ok", "not configured"))
        return web.json_response({"status": "not ready", "reason": reason, **state}, status=503)

    async def startup(request: web.Request) -> web.Response:
        if health.started:
            return web.json_response({"status": "started"})
        reason = (health.startup_reason() if health.startup_reason else None) or "start-up recovery not finished"
        return web.json_response({"status": "starting", "reason": reason}, status=503)

    def add(app: web.Application) -> None:
        app.router.add_get("/healthz/live", live)
        app.router.add_get("/healthz/ready", ready)
        app.router.add_get("/healthz/startup", startup)

    return add


def build_web_app(health: Health, *routes: RouteAdder) -> web.Application:
    """The web app: health probes, then each transport's routes (e.g. `slack_routes(bolt_app)`)."""
    app = web.Application()
    health_routes(health)(app)
    for add in routes:
        add(app)
    return app


async def start_web_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `app`; port 0 picks a free port. Returns the runner (call `cleanup()`) and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]
