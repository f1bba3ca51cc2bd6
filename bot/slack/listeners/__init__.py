"""Listener registry, one module per listener (bolt-python-starter-template layout): each module has
`register(app, deps)`. Add a module here and it is wired in; nothing else needs to change."""

from __future__ import annotations

import importlib

from slack_bolt.async_app import AsyncApp

from bot.slack.deps import SlackDeps

LISTENER_MODULES = [
    "bot.slack.listeners.commands.golive",
    "bot.slack.listeners.actions.signoff_buttons",
    "bot.slack.listeners.actions.rerun_button",
    "bot.slack.listeners.actions.confirm_button",
    "bot.slack.listeners.actions.rollout_buttons",
    "bot.slack.listeners.views.signoff_reject",
]


def register_listeners(app: AsyncApp, deps: SlackDeps) -> None:
    for name in LISTENER_MODULES:
        importlib.import_module(name).register(app, deps)
