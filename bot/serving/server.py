"""The one aiohttp web server of the bot: health probes plus whatever transports add (Slack's
/slack/events now, Teams' endpoint later), each added by a route function, so they compose.

Probes: /healthz/live (the process answers), /healthz/startup (start-up recovery is done),
/healthz/ready (the store answers, and Redis when configured; 503 with the reason otherwise).
`Readiness` runs named probes (store, Redis, the Socket Mode connection) concurrently, each under a
short timeout, and reports the reason when one does not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.coordination.locks import RedisLocks, ResilientLocks
from bot.diagnostics.degradations import Degradations, degradations
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


Probe = Callable[[], Awaitable[None]]


@dataclass
class ReadinessReport:
    ready: bool
    checks: dict[str, str]  # component -> "ok" or the reason it is not
    degraded: dict[str, str] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [f"{name}: {state}" for name, state in self.checks.items() if state != "ok"]

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ready else "unavailable", "checks": self.checks,
                "reasons": self.reasons, "degraded": self.degraded}


class Readiness:
    """Named async probes run concurrently, each under `timeout`; ready only when all answer."""

    def __init__(self, timeout: float = 2.0, registry: Degradations | None = None) -> None:
        self.timeout = timeout
        self.registry = registry or degradations
        self.probes: dict[str, Probe] = {}

    def add(self, name: str, probe: Probe) -> Readiness:
        self.probes[name] = probe
        return self

    def add_store(self, store: Any) -> Readiness:
        """The store answers `SELECT 1` (in a thread: the store is synchronous)."""
        return self.add("store", lambda: asyncio.to_thread(store.ping))

    def add_redis(self, locks: Any) -> Readiness:
        """Redis answers PING, when the locks live in Redis (in-process locks need no probe)."""
        if isinstance(locks, ResilientLocks):
            return self.add("redis", locks.check)
        if isinstance(locks, RedisLocks):
            return self.add("redis", lambda: locks.client.ping())
        return self

    def add_socket(self, connection: Any) -> Readiness:
        """The Socket Mode connection (`SocketModeConnection.check`): 503 until hello, and while disconnected."""
        return self.add("slack_socket", connection.check)

    async def _one(self, probe: Probe) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                await probe()
        except TimeoutError:
            return f"no answer within {self.timeout:g}s"
        except Exception as exc:
            return mask(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return "ok"

    async def report(self) -> ReadinessReport:
        names = list(self.probes)
        states = await asyncio.gather(*(self._one(self.probes[n]) for n in names))
        checks = dict(zip(names, states, strict=True))
        return ReadinessReport(ready=all(s == "ok" for s in states), checks=checks,
                               degraded=self.registry.active())
