"""Teams token validation over HTTP: real Activity JSON to /api/messages with tokens signed by a key of our
own (served as a local JWKS). Foreign or other-tenant issuers, a serviceUrl that disagrees with the token
or is not a Bot Connector host, and malformed tokens get 401, never 500; a multi-tenant bot (no
TEAMS_TENANT_ID) answers; the bot's connector token never goes to a URL outside the allow-list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import ConversationReference

from bot.chatops.service import ChatOps
from bot.serving.server import Health, build_web_app
from bot.settings import Settings
from bot.teams.app import MULTI_TENANT, TeamsTransport, auth_configuration, build_teams, teams_routes
from bot.teams.auth import ServiceUrlRefused
from bot.teams.cardkit import card, text
from tests.teams.conftest import TECH_LEAD
from tests.teams.support import Connector, cards_of, message, user
from tests.teams.tokens import (
    APP_ID,
    OTHER_TENANT,
    OUR_TENANT,
    TEAMS_SERVICE_URL,
    FixedTokenProvider,
    Signer,
    signing_keys,
)


@pytest.fixture
async def signer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Signer]:
    async with signing_keys(monkeypatch) as keys:
        yield keys



@pytest.fixture
async def bot_for(chatops: ChatOps, isolated_env: None) -> AsyncIterator[Callable[..., Any]]:
    """A Teams endpoint with real authentication: `await bot_for(tenant=...)` -> (transport, http client)."""
    clients: list[tuple[TeamsTransport, TestClient]] = []

    async def build(tenant: str | None = None, **extra: Any) -> tuple[TeamsTransport, TestClient]:
        settings = Settings(TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD="s3cret", TEAMS_TENANT_ID=tenant,
                            progress_interval=0.0, **extra)
        transport = build_teams(settings, chatops, provider_factory=FixedTokenProvider)
        http = TestClient(TestServer(build_web_app(Health(chatops.store), teams_routes(transport)), host="127.0.0.1"))
        await http.start_server()
        clients.append((transport, http))
        return transport, http

    yield build
    for transport, http in clients:
        await transport.bot.drain()
        await http.close()


def help_message(service_url: str = TEAMS_SERVICE_URL) -> dict[str, Any]:
    return message("help", service_url, user(TECH_LEAD), expect_replies=True)


async def post(http: TestClient, activity: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    response = await http.post("/api/messages", json=activity, headers=headers)
    body = await response.json() if response.content_type == "application/json" else await response.text()
    return response.status, body


@pytest.mark.parametrize("tenant", [None, OUR_TENANT], ids=["multi-tenant", "single-tenant"])
async def test_a_signed_bot_framework_token_is_answered(bot_for: Any, signer: Signer, tenant: str | None) -> None:
    _, http = await bot_for(tenant=tenant)
    status, body = await post(http, help_message(), signer.bearer())
    assert status == 200, body
    assert [card for reply in body["activities"] for card in cards_of(reply)], body


def test_without_a_tenant_id_the_bot_is_multi_tenant_the_way_the_sdk_documents(isolated_env: None) -> None:
    """Multi-tenant Azure Bots get connector tokens from the botframework.com tenant; before, MSAL refused
    every activity with 'TENANT_ID is not set' (500)."""
    from microsoft_agents.authentication.msal import MsalAuth

    config = auth_configuration(Settings(TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD="s3cret"))
    assert config.TENANT_ID == MULTI_TENANT and config.VALIDATE_ISSUER
    assert MsalAuth._resolve_authority(config) == f"https://login.microsoftonline.com/{MULTI_TENANT}"


@pytest.mark.parametrize("tenant", [None, OUR_TENANT], ids=["multi-tenant", "single-tenant"])
@pytest.mark.parametrize("issuer", [
    "https://evil.example.com",
    f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0",
    f"https://sts.windows.net/{OTHER_TENANT}/",
], ids=["foreign", "other-tenant-v2", "other-tenant-v1"])
async def test_a_token_from_another_issuer_gets_401(bot_for: Any, signer: Signer, tenant: str | None,
                                                    issuer: str) -> None:
    _, http = await bot_for(tenant=tenant)
    status, body = await post(http, help_message(), signer.bearer(iss=issuer, tid=OTHER_TENANT))
    assert status == 401, body


async def test_a_token_from_our_own_tenant_is_accepted(bot_for: Any, signer: Signer) -> None:
    _, http = await bot_for(tenant=OUR_TENANT)
    token = signer.bearer(iss=f"https://login.microsoftonline.com/{OUR_TENANT}/v2.0", tid=OUR_TENANT)
    status, body = await post(http, help_message(), token)
    assert status == 200, body


async def test_a_service_url_that_disagrees_with_the_token_gets_401(bot_for: Any, signer: Signer,
                                                                    connector: Connector) -> None:
    _, http = await bot_for()
    for service_url in ("https://evil.example.com/", connector.url):
        activity = message("help", service_url, user(TECH_LEAD))
        status, body = await post(http, activity, signer.bearer(service_url=TEAMS_SERVICE_URL))
        assert status == 401, (service_url, body)
    assert connector.calls == []


async def test_a_service_url_outside_the_allow_list_gets_401_even_when_the_token_names_it(
        bot_for: Any, signer: Signer) -> None:
    _, http = await bot_for()
    for service_url in ("https://evil.example.com/", "https://smba.trafficmanager.net.evil.example.com/"):
        status, body = await post(http, help_message(service_url), signer.bearer(service_url=service_url))
        assert status == 401, (service_url, body)


async def test_the_allow_list_is_configurable(bot_for: Any, signer: Signer) -> None:
    own = "https://connector.example.org/teams/"
    _, http = await bot_for(TEAMS_SERVICE_HOSTS="connector.example.org")
    status, body = await post(http, help_message(own), signer.bearer(service_url=own))
    assert status == 200, body
    status, body = await post(http, help_message(), signer.bearer())
    assert status == 401, body  # the list replaces the defaults


@pytest.mark.parametrize("authorization", [
    "Bearer not-a-jwt",
    "Bearer a.b.c",
    "Basic dXNlcjpwYXNz",
    "Bearer",
], ids=["garbage", "three-parts", "basic", "empty"])
async def test_a_malformed_authorization_header_gets_401(bot_for: Any, authorization: str) -> None:
    _, http = await bot_for()
    status, body = await post(http, help_message(), {"Authorization": authorization})
    assert status == 401, body


async def test_a_token_without_kid_or_with_an_unknown_kid_gets_401(bot_for: Any, signer: Signer) -> None:
    _, http = await bot_for()
    for headers in (signer.bearer(kid=None), signer.bearer(kid="someone-elses-key")):
        status, body = await post(http, help_message(), headers)
        assert status == 401, body


async def test_no_token_gets_401(bot_for: Any) -> None:
    _, http = await bot_for()
    status, body = await post(http, help_message(), {})
    assert status == 401, body


async def test_the_connector_token_never_goes_to_a_url_outside_the_allow_list(bot_for: Any,
                                                                             connector: Connector) -> None:
    """A stored reference pointing elsewhere (here the local stand-in, plain http) is refused before any
    request: the stand-in sees nothing."""
    transport, _ = await bot_for()
    reference = ConversationReference.model_validate({
        "channelId": "msteams", "serviceUrl": connector.url, "conversation": {"id": "19:x@thread.tacv2"},
        "bot": {"id": "28:golive-bot"}})
    with pytest.raises(ServiceUrlRefused):
        await transport.bot.proactive.post(reference, card([text("hello")], fallback="hello"))
    assert connector.calls == []
