"""Microsoft Teams as a registered transport (bot.conversation.registry): enabled by an app id, receiving
on POST /api/messages beside Slack's routes, announcing in TEAMS_CHANNEL."""

from __future__ import annotations

import asyncio

from bot.announcements.events import Notifier
from bot.conversation.pacing import Pacer
from bot.conversation.registry import ServeEnv, TransportConfigError
from bot.settings import Settings
from bot.store import Store
from bot.teams import teams_enabled
from bot.teams.app import TeamsConfigError, TeamsTransport, build_teams, notifier_from_settings, teams_routes
from bot.teams.conversation import teams_pacer


class TeamsServing:
    ready_later = False
    ended: asyncio.Event | None = None
    fatal: str | None = None

    def __init__(self, teams: TeamsTransport, env: ServeEnv) -> None:
        self.teams, self.env = teams, env
        self.routes = [teams_routes(teams)]

    async def start(self) -> None:
        await self.teams.bot.start(sweep_interval=self.env.settings.sweep_seconds)  # repaint orphaned run cards

    async def stop(self) -> None:
        await self.teams.bot.stop()

    def where(self, host: str, port: int) -> str:
        return f"Teams endpoint on http://{host}:{port}/api/messages"


class Teams:
    name = "teams"
    hint = "TEAMS_APP_ID for Microsoft Teams"

    def enabled(self, settings: Settings) -> bool:
        return teams_enabled(settings)

    def check(self, settings: Settings, *, http: bool) -> None:
        """Its credentials are checked when it is built (bot.teams.app.auth_configuration)."""

    def pacer(self, settings: Settings) -> Pacer:
        return teams_pacer(settings)

    def notifier(self, settings: Settings, store: Store, pacer: Pacer | None) -> Notifier | None:
        return notifier_from_settings(settings, store, pacer=pacer)

    def build(self, env: ServeEnv) -> TeamsServing:
        try:
            teams = build_teams(env.settings, env.chatops, rollout_hook=env.rollout_hook, pacer=env.pacer,
                                desk=env.desk)
        except TeamsConfigError as exc:
            raise TransportConfigError(str(exc)) from None
        return TeamsServing(teams, env)


TRANSPORT = Teams()
