"""Wiring the Microsoft 365 Agents SDK: auth configuration and connections from Settings, the CloudAdapter,
an AgentApplication routing activities to TeamsBot, and the aiohttp route for POST /api/messages.

The endpoint lives in its own aiohttp sub-application so the SDK's JWT middleware (and the app key it
reads its configuration from) apply to Teams traffic only, never to Slack's or the health routes.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ApplicationOptions,
    ConnectionManager,
    Connections,
    MemoryStorage,
    TurnState,
)

from bot.chatops.service import ChatOps, RolloutHook
from bot.conversation.pacing import Pacer
from bot.services.desk import Desk
from bot.serving.server import RouteAdder
from bot.settings import Settings
from bot.store import Store
from bot.teams import teams_enabled
from bot.teams.auth import GuardedClientFactory, host_validator, service_hosts, token_shape_middleware
from bot.teams.conversation import TeamsConversation, teams_pacer
from bot.teams.ids import MESSAGES_PATH, VERB_PREFIX
from bot.teams.notifier import TeamsNotifier
from bot.teams.proactive import Proactive
from bot.teams.receive import TeamsBot, quiet_turn_error
from bot.teams.references import References

log = logging.getLogger("golive.teams")

SERVICE_CONNECTION = "SERVICE_CONNECTION"
MULTI_TENANT = "botframework.com"
"""The token tenant of a multi-tenant Azure Bot (the Bot Framework's own default when none is configured)."""
ProviderFactory = Callable[[AgentAuthConfiguration], AccessTokenProviderBase]
_GOLIVE_VERBS = re.compile("^" + re.escape(VERB_PREFIX))


class TeamsConfigError(RuntimeError):
    """Teams is half-configured; the message says which setting is missing."""


@dataclass
class TeamsTransport:
    """What `build_teams` wires together; `teams_routes(transport)` mounts it on the web app."""

    bot: TeamsBot
    agent: AgentApplication[TurnState]
    adapter: CloudAdapter
    auth: AgentAuthConfiguration
    settings: Settings


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """The SDK's connection settings. Issuer validation is on (VALIDATE_ISSUER): tokens must come from the
    Bot Framework or the configured tenant. Without TEAMS_TENANT_ID the bot is multi-tenant and gets its
    connector tokens from the `botframework.com` tenant, as multi-tenant Azure Bots do."""
    if not settings.teams_anonymous and not (settings.teams_app_id and settings.teams_app_password):
        raise TeamsConfigError("Teams needs TEAMS_APP_ID and TEAMS_APP_PASSWORD (and TEAMS_TENANT_ID for a "
                               "single-tenant bot); GOLIVE_TEAMS_ANONYMOUS is for tests only")
    if settings.teams_anonymous:
        log.warning("Teams accepts unauthenticated activities (GOLIVE_TEAMS_ANONYMOUS): tests only")
    tenant = settings.teams_tenant_id
    if not tenant and settings.teams_app_password:
        tenant = MULTI_TENANT
        log.info("TEAMS_TENANT_ID is not set: Teams runs as a multi-tenant bot (tokens from %s)", MULTI_TENANT)
    return AgentAuthConfiguration(client_id=settings.teams_app_id, tenant_id=tenant,
                                  client_secret=settings.secret("teams_app_password"),
                                  connection_name=SERVICE_CONNECTION, anonymous_allowed=settings.teams_anonymous,
                                  validate_issuer=True)


def connections(config: AgentAuthConfiguration, provider_factory: ProviderFactory | None = None) -> Connections:
    """Tokens for the Bot Connector: MSAL client credentials with an app password, none without one.
    `provider_factory` replaces MSAL where Entra ID cannot be reached (tests)."""
    if provider_factory is not None:
        return ConnectionManager(provider_factory, {SERVICE_CONNECTION: config})
    if not config.CLIENT_SECRET:
        return ConnectionManager(lambda _: AnonymousTokenProvider(), {SERVICE_CONNECTION: config})
    try:
        from microsoft_agents.authentication.msal import MsalAuth
    except ImportError:
        raise TeamsConfigError("TEAMS_APP_PASSWORD is set but microsoft-agents-authentication-msal is not "
                               "installed: pip install 'golive[teams]'") from None
    return ConnectionManager(MsalAuth, {SERVICE_CONNECTION: config})


def adapter_for(settings: Settings, manager: Connections) -> CloudAdapter:
    """A CloudAdapter whose inbound serviceUrl check and outbound connector calls both use the allow-list
    (TEAMS_SERVICE_HOSTS); off only for anonymous test setups, whose connector is local http."""
    validator = host_validator(service_hosts(settings.teams_service_hosts), enabled=not settings.teams_anonymous)
    adapter = CloudAdapter(channel_service_client_factory=GuardedClientFactory(manager, validator),
                           host_validator=validator)
    adapter.on_turn_error = quiet_turn_error  # never the SDK's default, which posts the raw exception
    return adapter


def build_teams(settings: Settings, chatops: ChatOps, *, rollout_hook: RolloutHook | None = None,
                provider_factory: ProviderFactory | None = None, pacer: Pacer | None = None,
                desk: Desk | None = None) -> TeamsTransport:
    """The Teams transport over an existing ChatOps (shared with Slack: one engine, one store); `desk`: every
    service the bot serves (`chatops` is then its default service's)."""
    config = auth_configuration(settings)
    manager = connections(config, provider_factory)
    adapter = adapter_for(settings, manager)
    proactive = Proactive(adapter, app_id=settings.teams_app_id, anonymous=not config.CLIENT_SECRET)
    references = References(chatops.store)
    conversation = TeamsConversation(proactive, references, pacer=pacer or teams_pacer(settings),
                                     service_url=settings.teams_service_url,
                                     tenant_id=settings.teams_tenant_id)
    bot = TeamsBot(chatops, references, proactive, rollout_hook=rollout_hook,
                   progress_interval=settings.progress_interval, conversation=conversation, desk=desk)
    agent = AgentApplication[TurnState](
        ApplicationOptions(storage=MemoryStorage(), bot_app_id=settings.teams_app_id or "",
                           start_typing_timer=False, remove_recipient_mention=True),
        connection_manager=manager)
    agent.before_turn(bot.before_turn)
    agent.adaptive_card.action_execute(_GOLIVE_VERBS)(bot.on_execute)
    agent.adaptive_card.action_submit(_GOLIVE_VERBS)(bot.on_submit)
    agent.conversation_update("membersAdded")(bot.on_members_added)
    agent.message(None)(bot.on_message)
    agent.error(bot.on_error)
    return TeamsTransport(bot=bot, agent=agent, adapter=adapter, auth=config, settings=settings)


def teams_routes(transport: TeamsTransport) -> RouteAdder:
    """POST /api/messages for bot.serving.server.build_web_app, behind the SDK's JWT check (anonymous only when
    configured for tests)."""
    prefix, _, leaf = MESSAGES_PATH.rpartition("/")

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, transport.agent, transport.adapter)
        return response if response is not None else web.Response(status=202)

    def add(app: web.Application) -> None:
        sub = web.Application(middlewares=[token_shape_middleware, jwt_authorization_middleware])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the SDK reads this plain-string app key; aiohttp prefers AppKey
            sub["agent_configuration"] = transport.auth
        sub.router.add_post("/" + leaf, messages)
        app.add_subapp(prefix, sub)

    return add


def notifier_from_settings(settings: Settings, store: Store, *, pacer: Pacer | None = None) -> TeamsNotifier | None:
    """A TeamsNotifier for processes that only speak (the watch worker): an adapter for proactive posts,
    no endpoint. None unless TEAMS_CHANNEL and the bot's credentials are configured."""
    if not settings.teams_channel or not teams_enabled(settings):
        return None
    config = auth_configuration(settings)
    adapter = adapter_for(settings, connections(config))
    proactive = Proactive(adapter, app_id=settings.teams_app_id, anonymous=not config.CLIENT_SECRET)
    conversation = TeamsConversation(proactive, References(store), pacer=pacer or teams_pacer(settings),
                                     service_url=settings.teams_service_url, tenant_id=settings.teams_tenant_id)
    return TeamsNotifier(conversation, channel=settings.teams_channel)
