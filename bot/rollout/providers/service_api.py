"""One JSON request to a flag service's REST API (Unleash, LaunchDarkly): bounded in size and time, never
following a redirect, and every failure turned into one ProviderError line that says what to do. The
providers say what their service's status codes mean; this module only carries the bytes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.rollout.providers import ProviderError, config_error, web_url
from checks.bounded import MIB, CapExceeded, request_capped
from checks.masking import mask, redact_url

Explain = Callable[[str, str, httpx.Response, Any], str]
"""(method, url, response, parsed body or None) -> the one line a person reads for an error answer."""
RetryAfter = Callable[[httpx.Response], float | None]
"""Seconds to wait before sending the same request again (a rate limit), or None: do not retry."""


class ServiceConfig(BaseModel):
    """What every flag service's settings share: how its API is reached and how much of an answer is read."""

    model_config = ConfigDict(extra="forbid")

    url: str
    timeout: float = Field(10.0, gt=0)
    verify_tls: bool = True
    max_body_bytes: int = Field(MIB, gt=0, description="read at most this much of an answer")

    @field_validator("url")
    @classmethod
    def _reachable(cls, value: str) -> str:
        return web_url(value)


Config = TypeVar("Config", bound=BaseModel)


def service_setup(model: type[Config], kind: str, cfg: Mapping[str, Any], token: str | None, setting: str,
                  missing: str) -> tuple[Config, str]:
    """A flag service's checked configuration and its API token (`setting`, or its `_FILE`, when the caller
    passes none): one line with the fix when either is wrong, as every provider says it at load."""
    try:
        config = model.model_validate(dict(cfg))
    except ValidationError as exc:
        raise config_error(kind, exc.errors()) from None
    if token is None:
        from bot.settings import provider_token

        token = provider_token(setting)
    if not token:
        raise ProviderError(missing)
    return config, token


def error_message(body: Any) -> str:
    """The `message` a JSON error body carries (both services answer `{..., "message": "..."}`)."""
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return mask(message[:300])
    return ""


class JsonApi:
    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout: float, max_body_bytes: int,
                 verify_tls: bool, what: str, client: httpx.AsyncClient | None = None,
                 retry_after: RetryAfter | None = None, max_wait: float = 30.0, retries: int = 3,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.what = what
        self.retry_after = retry_after
        self.max_wait = max_wait
        self.retries = retries
        self.sleep = sleep
        self.waits: list[float] = []  # what rate limits cost, for the evidence and the tests
        self.client = client or httpx.AsyncClient(headers=dict(headers), timeout=timeout, verify=verify_tls,
                                                  follow_redirects=False)

    async def send(self, method: str, path: str, explain: Explain, *, body: Any = None,
                   headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
                   ) -> tuple[httpx.Response, Any]:
        """(response, parsed JSON or None) for a 2xx answer; a ProviderError for anything else. A rate-limited
        answer is retried after the wait the service names, at most `retries` times and `max_wait` seconds
        each; a longer wait is an error that names it."""
        for attempt in range(self.retries + 1):
            response, parsed = await self._send_once(method, path, body=body, headers=headers, params=params)
            wait = self.retry_after(response) if self.retry_after and response.status_code >= 300 else None
            if wait is None or wait > self.max_wait or attempt == self.retries:
                if response.status_code >= 300:
                    raise ProviderError(explain(method, self.base_url + path, response, parsed))
                return response, parsed
            self.waits.append(wait)
            await self.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    async def _send_once(self, method: str, path: str, *, body: Any, headers: Mapping[str, str] | None,
                         params: Mapping[str, str] | None) -> tuple[httpx.Response, Any]:
        url = self.base_url + path
        content = json.dumps(body).encode() if body is not None else None
        send_headers = {"Content-Type": "application/json", **(headers or {})} if content is not None else headers
        try:
            response, raw = await request_capped(self.client, method, url, limit=self.max_body_bytes,
                                                 setting="rollout.provider.max_body_bytes",
                                                 total_timeout=self.timeout, content=content,
                                                 headers=send_headers, params=params)
        except CapExceeded as exc:
            raise ProviderError(f"{self.what}: {mask(str(exc))}") from None
        except TimeoutError:
            raise ProviderError(f"{self.what}: {method} {redact_url(url)} timed out after {self.timeout:g}s") \
                from None
        except httpx.HTTPError as exc:
            reason = mask(str(exc)) or type(exc).__name__
            raise ProviderError(f"{self.what} unreachable: {method} {redact_url(url)} failed: {reason}") from None
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except (ValueError, RecursionError):
            parsed = None
        return response, parsed

    async def close(self) -> None:
        await self.client.aclose()
