"""Assembling the bot's notifier from settings: the terminal, an optional JSON-lines file, and every chat
transport of the registry (bot.conversation.registry) that has a release channel configured. No transport
is named here, so the rollout and run workflows never import one (they are handed a
bot.announcements.events.Notifier)."""

from __future__ import annotations

from bot.announcements.events import FanoutNotifier, Notifier
from bot.conversation import registry
from bot.conversation.pacing import Pacer
from bot.rollout.notify import JsonlNotifier, TerminalNotifier
from bot.rollout.worker import say
from bot.settings import Settings
from bot.store import Store


def build_notifier(settings: Settings, store: Store, *, events_file: str | None = None,
                   terminal: bool = True, pacers: dict[str, Pacer] | None = None) -> FanoutNotifier:
    """stdout, the optional JSON-lines file, and each transport whose release channel is configured.
    `pacers` (by transport) are shared with the bot of the same process, so its runs and these events
    pace together in one channel."""
    pacers = pacers or {}
    notifiers: list[Notifier] = [TerminalNotifier()] if terminal else []
    if events_file:
        notifiers.append(JsonlNotifier(events_file))
    for transport in registry.available():
        try:
            notifier = transport.notifier(settings, store, pacers.get(transport.name))
        except (ImportError, RuntimeError) as exc:  # a transport's optional SDK, or half its settings
            say(f"{transport.name} is configured but cannot be loaded ({exc}); its events are not posted")
            continue
        if notifier is not None:
            notifiers.append(notifier)
    return FanoutNotifier(notifiers)
