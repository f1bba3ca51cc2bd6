"""Assembling and running the Slack side of the bot: deps, the Bolt app, start-up recovery and the
periodic sweep. `golive serve` and the tests start the bot the same way, through `SlackBot`."""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import logging
from dataclasses import dataclass, field

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization
from slack_sdk.web.async_client import AsyncWebClient

from bot.chatops.service import ChatOps, RolloutHook
from bot.chatops.sweeper import every
from bot.conversation.pacing import Pacer
from bot.coordination.locks import LOCK_TTL
from bot.coordination.stopping import stop_task
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
from checks.runner import load_http_stack

log = logging.getLogger("golive.slack")
SESSION_CONNECTIONS = 32
"""Keep-alive connections to the Web API the shared session holds at most (aiohttp's default is 100)."""


class SlackStartupError(RuntimeError):
    """Slack refused the bot token at start-up; the message names the Slack error, never the token."""


@dataclass
class SlackBot:
    deps: SlackDeps
    app: AsyncApp
    sweep_interval: float = LOCK_TTL
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)
    _loading: asyncio.Task[bool] | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Check the token (auth.test), repaint runs a dead process left behind, start the sweeper."""
        self._session = share_session(self.deps.client)
        # the first HTTP check's imports and TLS context: in a thread while the start-up waits on Slack, and
        # done before the bot says it is ready, rather than on the loop (or beside it) once runs and acks share it
        served = self.deps.desk.all_ops() if self.deps.desk is not None else [self.deps.chatops]
        self._loading = asyncio.create_task(load_http_stack([check for ops in served
                                                             for check in ops.checklist.all_checks()]))
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
        await self._loading
        self._sweeper = asyncio.create_task(every(self.sweep_interval, lambda: recover_interrupted_runs(self.deps),
                                                  name="Slack recovery sweep", log=log))

    async def stop(self) -> None:
        """Interrupt runs in flight (their messages say so) and stop the sweeper."""
        await stop_task(self._sweeper)  # repeated cancels: a lost one must not hang the shutdown
        await self.deps.tasks.cancel_all()
        if self._loading is not None:
            with contextlib.suppress(Exception):
                await self._loading
        if self._session is not None:
            await self._session.close()


def _same_session(session: aiohttp.ClientSession) -> str:
    """Bolt deep-copies each request (with its context's client) for the lazy listeners; a session holds the
    loop and its connections and cannot be copied. A copy shares it: `deepcopy` keeps the object itself when
    its reducer answers a name."""
    return "aiohttp.ClientSession"


def share_session(client: AsyncWebClient) -> aiohttp.ClientSession | None:
    """One pooled aiohttp session for every Web API call of the bot, kept open until `stop`. Without one,
    slack_sdk opens a new session, TCP (and TLS) connection per call and closes it after: with five runs
    repainting progress and a burst of commands answering, that connecting and closing ran on the event
    loop between acks. Bolt's per-request clients copy `session` from this client, so they share it too.
    None when the client already has a session (or is a stand-in without one)."""
    if not isinstance(client, AsyncWebClient) or client.session is not None:
        return None
    copyreg.pickle(aiohttp.ClientSession, _same_session)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout),
                                    trust_env=client.trust_env_in_session,
                                    connector=aiohttp.TCPConnector(limit=SESSION_CONNECTIONS))
    client.session = session
    return session


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
