"""Who may talk to the bot, and where the bot's connector token may go.

The SDK validates the JWT (signature, audience, and with VALIDATE_ISSUER the issuer) and, with its
OutboundHostValidator enabled, refuses an activity whose serviceUrl is not allowed or disagrees with the
token's `serviceurl` claim. This module configures those and adds what the SDK leaves to the host:
- a token that is not even a JWT, or has no `kid`, is a 401 (the SDK would answer 500);
- outbound connector clients (replies, proactive posts from stored references) are only created for an
  allowed service URL, so the bot's token never goes elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import jwt
from aiohttp import web
from microsoft_agents.hosting.core import (
    ClaimsIdentity,
    Connections,
    OutboundHostValidator,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.authorization import AuthenticationConstants
from microsoft_agents.hosting.core.connector import ConnectorClientBase

log = logging.getLogger("golive.teams")

DEFAULT_SERVICE_HOSTS = (
    "smba.trafficmanager.net",  # Teams, commercial cloud (every region: /amer/, /emea/, /teams/ ...)
    "smba.infra.gcc.teams.microsoft.com",  # GCC
    "smba.infra.gov.teams.microsoft.us",  # GCC High
    "smba.infra.dod.teams.microsoft.us",  # DoD
)
"""The Bot Connector hosts Teams puts in `serviceUrl` (subdomains included); TEAMS_SERVICE_HOSTS replaces them."""

AUTH_ERROR = {"error": "Invalid token or authentication failed."}  # the SDK's own 401 body


class ServiceUrlRefused(RuntimeError):
    """The bot was about to call a connector URL that is not allowed; nothing was sent."""


def service_hosts(value: str | None) -> list[str]:
    hosts = (value or "").replace(",", " ").split()
    return hosts or list(DEFAULT_SERVICE_HOSTS)


def host_validator(hosts: list[str], *, enabled: bool) -> OutboundHostValidator:
    """The SDK's own allow-list (https only, no private or loopback addresses), limited to the Bot Connector
    hosts: the SDK's wider default list (Graph, SharePoint, blob storage) is for attachments, not for the
    bot's connector token. With it enabled the SDK also refuses (401) an activity whose serviceUrl host
    disagrees with the token's `serviceurl` claim. Disabled only for anonymous test setups, whose connector
    is a local http stand-in."""
    return OutboundHostValidator(hosts, enabled=enabled, include_default_microsoft_hosts=False)


def unauthorized(reason: str) -> web.Response:
    log.warning("Teams request refused (401): %s", reason)
    return web.json_response(AUTH_ERROR, status=401)


@web.middleware
async def token_shape_middleware(request: web.Request,
                                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Runs before the SDK's JWT middleware: a bearer token that is not a JWT or names no signing key
    (`kid`) is refused here with 401, where the SDK would fail with a KeyError (500)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized("malformed Authorization header")
        try:
            kid = jwt.get_unverified_header(token.strip()).get(AuthenticationConstants.KEY_ID_HEADER)
        except jwt.PyJWTError:
            return unauthorized("the bearer token is not a JWT")
        if not isinstance(kid, str) or not kid:
            return unauthorized("the bearer token names no signing key (kid)")
    return await handler(request)


class GuardedClientFactory(RestChannelServiceClientFactory):
    """The SDK's connector client factory, refusing any service URL outside the allow-list: the bot's token
    only ever goes to a Bot Framework connector."""

    def __init__(self, connection_manager: Connections, validator: OutboundHostValidator) -> None:
        super().__init__(connection_manager)
        self.validator = validator

    async def create_connector_client(self, context: TurnContext | None, claims_identity: ClaimsIdentity,
                                      service_url: str, audience: str, scopes: list[str] | None = None,
                                      use_anonymous: bool = False) -> ConnectorClientBase:
        if not self.validator.is_allowed(service_url):
            raise ServiceUrlRefused("the conversation's service URL is not an allowed Bot Framework service URL "
                                    "(TEAMS_SERVICE_HOSTS); nothing was sent")
        return await super().create_connector_client(context, claims_identity, service_url, audience, scopes,
                                                     use_anonymous)
