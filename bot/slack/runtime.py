"""Assembling and running the Slack side of the bot: deps, the Bolt app, start-up recovery and the
periodic sweep. `golive serve` and the tests start the bot the same way, through `SlackBot`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization
from slack_sdk.web.async_client import AsyncWebClient

from bot.chatops.service import ChatOps, RolloutHook
from bot.chatops.sweeper import every
from bot.conversation.pacing import Pacer
from bot.coordination.locks import LOCK_TTL
from bot.diagnostics.netreason import network_reason
from bot.services.desk import Desk
from bot.settings import Settings
from bot.slack.app import build_slack_app, install, new_slack_app
from bot.slack.conversation import SlackConversation, slack_pacer
from bot.slack.deps import SlackDeps
from bot.slack.directory import SlackDirectory
from bot.slack.ids import TRANSPORT
from bot.slack.poster import slack_error
from bot.slack.recovery import recover_interrupted_runs

log = logging.getLogger("golive.slack")


class SlackStartupError(RuntimeError):
    """Slack refused the bot token at start-up; the message names the Slack error, never the token."""


@dataclass
class SlackBot:
    deps: SlackDeps
    app: AsyncApp
    sweep_interval: float = LOCK_TTL
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Check the token (auth.test), repaint runs a dead process left behind, start the sweeper."""
        try:
            auth = await self.deps.client.auth_test()
        except Exception as exc:
            reason = network_reason(exc)
            if reason:  # offline or a wrong GOLIVE_SLACK_API_URL is not a bad token
                raise SlackStartupError(f"could not reach Slack to check the bot token: {reason}") from None
            raise SlackStartupError(f"Slack rejected the bot token (auth.test: {slack_error(exc)})") from None
        # Bolt caches auth.test on its authorization middleware; filling it keeps the first ack fast.
        for middleware in self.app._async_middleware_list:
            if isinstance(middleware, AsyncSingleTeamAuthorization) and middleware.auth_test_result is None:
                middleware.auth_test_result = auth
        await recover_interrupted_runs(self.deps)
        self._sweeper = asyncio.create_task(every(self.sweep_interval, lambda: recover_interrupted_runs(self.deps),
                                                  name="Slack recovery sweep", log=log))

    async def stop(self) -> None:
        """Interrupt runs in flight (their messages say so) and stop the sweeper."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.deps.tasks.cancel_all()


def build_slack_bot(settings: Settings, chatops: ChatOps, *, client: AsyncWebClient | None = None,
                    on_rollout_action: RolloutHook | None = None, pacer: Pacer | None = None,
                    desk: Desk | None = None) -> SlackBot:
    """`pacer`: shared with the notifier of the same process (bot.announcements.notifiers), so they pace together.
    `desk`: every service the bot serves (`chatops` is then its default service's)."""
    pacer = pacer or slack_pacer(settings)
    app = None
    if client is None:  # Bolt builds the Web API client from the token; the bot uses that one
        app = new_slack_app(token=settings.secret("slack_bot_token"),
                            signing_secret=settings.secret("slack_signing_secret"), base_url=settings.slack_api_url)
        client = app.client
    directory = SlackDirectory(client)
    for ops in desk.all_ops() if desk is not None else [chatops]:
        ops.directories[TRANSPORT] = directory
    poster = SlackConversation(client, chatops.store, pacer=pacer)
    deps = SlackDeps(chatops=chatops, client=client, poster=poster, directory=directory,
                     channel=settings.slack_channel, progress_interval=settings.progress_interval,
                     on_rollout_action=on_rollout_action, desk=desk)
    app = install(app, deps) if app is not None else build_slack_app(
        deps, signing_secret=settings.secret("slack_signing_secret"))
    return SlackBot(deps=deps, app=app)
