"""Assembling the bot's notifier from settings: the terminal, an optional JSON-lines file, and every chat
transport that is configured. The one place that knows the transports by name, so the rollout and run
workflows never import one (they are handed a bot.events.Notifier)."""

from __future__ import annotations

from bot.conversation.pacing import Pacer
from bot.events import FanoutNotifier, Notifier
from bot.rollout.notify import JsonlNotifier, TerminalNotifier
from bot.rollout.worker import say
from bot.settings import Settings
from bot.store import Store


def build_notifier(settings: Settings, store: Store, *, events_file: str | None = None,
                   terminal: bool = True, pacers: dict[str, Pacer] | None = None) -> FanoutNotifier:
    """stdout, the optional JSON-lines file, Slack when a bot token and a channel are configured, and Teams
    when TEAMS_CHANNEL and the bot's credentials are. `pacers` (by transport) are shared with the bot of
    the same process, so its runs and these events pace together in one channel."""
    pacers = pacers or {}
    notifiers: list[Notifier] = [TerminalNotifier()] if terminal else []
    if events_file:
        notifiers.append(JsonlNotifier(events_file))
    if settings.secret("slack_bot_token") and settings.slack_channel:
        try:
            from bot.slack.client import client_from_settings
            from bot.slack.conversation import SlackConversation, slack_pacer
            from bot.slack.notifier import SlackNotifier
        except ImportError as exc:  # the Slack transport is optional
            say(f"Slack is configured but cannot be loaded ({exc}); events go to the terminal only")
        else:
            notifiers.append(SlackNotifier(SlackConversation(client_from_settings(settings), store,
                                                             pacer=pacers.get("slack") or slack_pacer(settings)),
                                           settings.slack_channel))
    if settings.teams_channel:
        try:
            from bot.teams.app import notifier_from_settings

            teams = notifier_from_settings(settings, store, pacer=pacers.get("teams"))
        except (ImportError, RuntimeError) as exc:  # the Teams transport is optional too
            say(f"Teams is configured but cannot be loaded ({exc}); events are not posted to Teams")
        else:
            if teams is not None:
                notifiers.append(teams)
    return FanoutNotifier(notifiers)


