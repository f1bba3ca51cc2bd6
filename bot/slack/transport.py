"""Slack as a registered transport (bot.conversation.registry): enabled by a bot token, receiving over
Socket Mode (default) or HTTP (/slack/events), announcing in SLACK_CHANNEL."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.announcements.events import Notifier
from bot.conversation.pacing import Pacer
from bot.conversation.registry import ServeEnv, TransportConfigError
from bot.settings import Settings
from bot.slack.conversation import SlackConversation, slack_pacer
from bot.slack.runtime import SlackBot, SlackStartupError, build_slack_bot
from bot.store import Store


class SlackServing:
    def __init__(self, bot: SlackBot, env: ServeEnv) -> None:
        from bot.slack.http import slack_routes

        self.bot, self.env = bot, env
        self.routes = [slack_routes(bot.app)] if env.http else []
        self.socket: Any = None
        if not env.http:  # its probe is in place before the first answer: not ready until hello
            from bot.slack.socket_mode import SocketModeConnection

            health = env.health
            self.socket = SocketModeConnection(bot.app, env.settings.secret("slack_app_token") or "",
                                               bot.deps.client, timing=env.options.get("socket_timing"),
                                               on_connected=lambda: setattr(health, "started", True))
            health.probes["slack_socket"] = self.socket.check
            health.startup_reason = self.socket.startup_reason
        self.ready_later = self.socket is not None
        self.ended: asyncio.Event | None = self.socket.ended if self.socket is not None else None

    @property
    def fatal(self) -> str | None:
        return str(self.socket.fatal) if self.socket is not None and self.socket.fatal is not None else None

    async def start(self) -> None:
        self.bot.sweep_interval = self.env.settings.sweep_seconds
        try:
            await self.bot.start()
        except SlackStartupError as exc:
            raise TransportConfigError(str(exc)) from None
        if self.socket is not None:  # started (and ready) once Slack says hello; it alone reconnects
            self.socket.start()

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.bot.stop()

    def where(self, host: str, port: int) -> str:
        if self.socket is not None:
            return f"connecting to Slack in Socket Mode; health on http://{host}:{port}/healthz/*"
        return f"Slack endpoint on http://{host}:{port}/slack/events, health on /healthz/*"


class Slack:
    name = "slack"
    hint = "SLACK_BOT_TOKEN (the xoxb- token from OAuth & Permissions) for Slack"

    def enabled(self, settings: Settings) -> bool:
        return bool(settings.secret("slack_bot_token"))

    def check(self, settings: Settings, *, http: bool) -> None:
        if http and not settings.secret("slack_signing_secret"):
            raise TransportConfigError("--http needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
        if not http and not settings.secret("slack_app_token"):
            raise TransportConfigError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token with "
                                       "connections:write); or run with --http")

    def pacer(self, settings: Settings) -> Pacer:
        return slack_pacer(settings)

    def notifier(self, settings: Settings, store: Store, pacer: Pacer | None) -> Notifier | None:
        if not (settings.secret("slack_bot_token") and settings.slack_channel):
            return None
        from bot.slack.client import client_from_settings
        from bot.slack.notifier import SlackNotifier

        return SlackNotifier(SlackConversation(client_from_settings(settings), store,
                                               pacer=pacer or slack_pacer(settings)), settings.slack_channel)

    def build(self, env: ServeEnv) -> SlackServing:
        bot = build_slack_bot(env.settings, env.chatops, on_rollout_action=env.rollout_hook, pacer=env.pacer,
                              desk=env.desk)
        return SlackServing(bot, env)


TRANSPORT = Slack()
