"""Signed Bot Framework tokens for the Teams tests: an RSA key of our own, its JWKS served over local HTTP,
and the SDK's JWKS lookups for the Microsoft key URLs answered from that local server.

The SDK's validator fetches keys with PyJWKClient from fixed Microsoft URLs (login.botframework.com for Bot
Framework tokens, login.microsoftonline.com for Entra ones). Its per-URL client cache is seeded with clients
that read our local JWKS instead, so the whole path (header, key fetch over HTTP, signature, audience,
issuer) runs for real. Entra ID itself cannot run here: the connector token the bot would ask MSAL for
comes from `FixedTokenProvider`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.hosting.core import AnonymousTokenProvider
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    JwtTokenValidator,
    _JwkClientCacheEntry,
)

APP_ID = "00000000-0000-4000-8000-00000000b0b0"
OUR_TENANT = "11111111-1111-4111-8111-111111111111"
OTHER_TENANT = "22222222-2222-4222-8222-222222222222"
BF_ISSUER = "https://api.botframework.com"
TEAMS_SERVICE_URL = "https://smba.trafficmanager.net/emea/"
KID = "golive-test-key"
MICROSOFT_JWKS_URLS = (
    "https://login.botframework.com/v1/.well-known/keys",
    "https://login.microsoftonline.com/common/discovery/v2.0/keys",
    "https://login.microsoftonline.com/botframework.com/discovery/v2.0/keys",
    f"https://login.microsoftonline.com/{OUR_TENANT}/discovery/v2.0/keys",
)


class FixedTokenProvider(AnonymousTokenProvider):
    """Stands in for MSAL (Entra ID cannot be reached here): a fixed connector token."""

    TOKEN = "test-connector-token"

    def __init__(self, config: AgentAuthConfiguration | None = None) -> None:
        self._config = config

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        return self.TOKEN


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    jwks_url: str

    def token(self, *, iss: str = BF_ISSUER, aud: str = APP_ID, service_url: str | None = TEAMS_SERVICE_URL,
              kid: str | None = KID, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {"iss": iss, "aud": aud, "iat": now, "nbf": now - 5, "exp": now + 600,
                                   "jti": uuid.uuid4().hex, **claims}
        if service_url is not None:
            payload["serviceurl"] = service_url
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(payload, self.key, algorithm="RS256", headers=headers)

    def bearer(self, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kw)}"}


@contextlib.asynccontextmanager
async def signing_keys(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Signer]:
    """A fresh key, its JWKS on a local server, and the SDK's Microsoft key URLs answered from it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(jwks)

    app = web.Application()
    app.router.add_get("/keys", keys)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/keys"))
    cache = JwtTokenValidator._jwk_client_manager._cache
    for microsoft_url in MICROSOFT_JWKS_URLS:
        monkeypatch.setitem(cache, microsoft_url, _JwkClientCacheEntry(jwt.PyJWKClient(url), threading.Lock()))
    try:
        yield Signer(key, url)
    finally:
        await server.close()
