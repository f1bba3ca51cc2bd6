"""The Web API client: connection errors, Slack's rate limits (429, waiting its Retry-After) and 500/503
answers are retried here, so no caller has to think about them. A 429 is retried for as long as the waits
Slack asks for fit a time budget (a harsher limit than documented only takes longer, it does not drop
messages); a 5xx or a dropped connection gets two retries of its own, whatever 429s came before."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

RETRY_BUDGET = 60.0
"""Seconds one call may spend waiting on Slack's Retry-After before it is given up (and accounted for)."""
Sleep = Callable[[float], Awaitable[None]]


def _custom(state: RetryState) -> dict[str, Any]:
    if state.custom_values is None:
        state.custom_values = {}
    return state.custom_values


class RetryAfterBudget(AsyncRetryHandler):
    """429: wait what Slack asked for (Retry-After), again and again, while the total wait fits `budget`."""

    def __init__(self, budget: float = RETRY_BUDGET, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.budget = budget
        self.sleep = sleep

    @staticmethod
    def wait_of(response: HttpResponse) -> float:
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return max(0.0, float(values[0]))
                except ValueError:
                    break
        return 1.0

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        return float(_custom(state).get("waited", 0.0)) + self.wait_of(response) <= self.budget

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        assert response is not None  # _can_retry_async said yes: a 429 answer
        wait = self.wait_of(response)
        custom = _custom(state)
        custom["waited"] = float(custom.get("waited", 0.0)) + wait
        state.next_attempt_requested = True
        await self.sleep(wait)
        state.increment_current_attempt()


class _OwnCount:
    """A handler that counts its own retries (the built-in ones share one count with the 429 handler)."""

    max_retry_count: int

    async def can_retry_async(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                              error: Exception | None = None) -> bool:
        custom, key = _custom(state), f"retries:{type(self).__name__}"
        if custom.get(key, 0) >= self.max_retry_count:
            return False
        if not await self._can_retry_async(state=state, request=request,  # type: ignore[attr-defined]  # reason: mixed into a slack_sdk handler, which defines it
                                           response=response, error=error):
            return False
        custom[key] = custom.get(key, 0) + 1
        return True


class ServerErrors(_OwnCount, AsyncServerErrorRetryHandler):
    pass


class ConnectionErrors(_OwnCount, AsyncConnectionErrorRetryHandler):
    pass


def build_web_client(token: str | None, base_url: str = "https://slack.com/api/", *,
                     timeout: int = 15, sleep: Sleep = asyncio.sleep,
                     budget: float = RETRY_BUDGET) -> AsyncWebClient:
    return configure_web_client(AsyncWebClient(token=token), base_url, timeout=timeout, sleep=sleep, budget=budget)


def configure_web_client(client: AsyncWebClient, base_url: str = "https://slack.com/api/", *,
                         timeout: int = 15, sleep: Sleep = asyncio.sleep,
                         budget: float = RETRY_BUDGET) -> AsyncWebClient:
    """Point `client` at `base_url` with our timeout and retries; also used on the client Bolt builds.
    `sleep` is how the 429 handler waits (tests pass a virtual clock's)."""
    client.base_url = base_url if base_url.endswith("/") else base_url + "/"
    client.timeout = timeout
    client.retry_handlers = [
        ConnectionErrors(max_retry_count=2),
        RetryAfterBudget(budget, sleep),
        ServerErrors(max_retry_count=2),
    ]
    return client


def client_from_settings(settings: Settings) -> AsyncWebClient:
    return build_web_client(settings.secret("slack_bot_token"), settings.slack_api_url)
