"""The transport registry: which chat transports exist, one line each, and what each one builds.

In the spirit of Grafana OnCall's messaging backends: `serve`, the notifier and the pacers loop over this
table and never name a transport. A transport is a package exposing a `ChatTransport`; a new one is that
package plus one line in `REGISTRY` (tests register the in-memory transport with `register`). Entries are
imported lazily, so a deployment without the Teams SDK still serves Slack.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.announcements.events import Notifier
    from bot.chatops.service import ChatOps, RolloutHook
    from bot.conversation.pacing import Pacer
    from bot.services.desk import Desk
    from bot.serving.server import Health, RouteAdder
    from bot.settings import Settings
    from bot.store import Store

log = logging.getLogger("golive.conversation")

REGISTRY: dict[str, str] = {
    "slack": "bot.slack.transport:TRANSPORT",
    "teams": "bot.teams.transport:TRANSPORT",
}
"""name -> "module:attribute" of its ChatTransport. One line per transport."""

_loaded: dict[str, ChatTransport] = {}


class TransportConfigError(RuntimeError):
    """A transport is half-configured or refused at start-up; the message says what to set or fix."""


@dataclass
class ServeEnv:
    """What `serve` hands every transport it builds: one engine, one store, one health endpoint."""

    settings: Settings
    store: Store
    chatops: ChatOps  # the default service's (the only one for a bot of one)
    health: Health
    pacer: Pacer | None = None
    rollout_hook: RolloutHook | None = None
    http: bool = False  # receive over HTTP rather than a socket the transport opens itself
    options: dict[str, Any] = field(default_factory=dict)  # transport-specific (e.g. Socket Mode timing)
    desk: Desk | None = None  # every service the bot serves, each with its ChatOps (None: `chatops` alone)


class Serving(Protocol):
    """One transport, built and serving: routes before the web server listens, `start` once it does."""

    routes: list[RouteAdder]
    ready_later: bool  # the transport marks the bot started itself (a socket that must say hello first)
    ended: asyncio.Event | None  # set when the transport cannot go on (then `fatal` says why)
    fatal: str | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def where(self, host: str, port: int) -> str: ...


class ChatTransport(Protocol):
    name: str
    hint: str  # the setting that enables it, for "nothing to serve: set …"

    def enabled(self, settings: Settings) -> bool:
        """Whether `serve` runs this transport (its credentials are set)."""

    def check(self, settings: Settings, *, http: bool) -> None:
        """Raise TransportConfigError naming the missing setting, before anything starts."""

    def pacer(self, settings: Settings) -> Pacer:
        """One per process: its bot and its notifier pace posts in a channel together."""

    def notifier(self, settings: Settings, store: Store, pacer: Pacer | None) -> Notifier | None:
        """Where the bot's own events go in this transport (None: no release channel configured)."""

    def build(self, env: ServeEnv) -> Serving:
        """The bot of this transport over the shared ChatOps."""


def register(name: str, transport: ChatTransport | str) -> None:
    """Add (or replace) a transport: an object, or "module:attribute" imported when first used."""
    if isinstance(transport, str):
        REGISTRY[name] = transport
        _loaded.pop(name, None)
    else:
        REGISTRY[name] = f"<registered {name}>"
        _loaded[name] = transport


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    _loaded.pop(name, None)


def load(name: str) -> ChatTransport:
    if name not in _loaded:
        module, _, attribute = REGISTRY[name].partition(":")
        _loaded[name] = getattr(importlib.import_module(module), attribute)
    return _loaded[name]


def available() -> list[ChatTransport]:
    """Every registered transport that can be imported here (an optional SDK may be missing)."""
    found = []
    for name in list(REGISTRY):
        try:
            found.append(load(name))
        except ImportError as exc:
            log.info("the %s transport cannot be loaded here: %s", name, exc)
    return found


def enabled(settings: Settings) -> list[ChatTransport]:
    return [t for t in available() if t.enabled(settings)]


def pacers(settings: Settings) -> dict[str, Pacer]:
    return {t.name: t.pacer(settings) for t in available()}
