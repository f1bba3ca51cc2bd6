"""The Web API client: connection errors, Slack's rate limits (429, waiting its Retry-After) and 500/503
answers are retried here, so no caller has to think about them. The handlers share one attempt count
per request, hence two attempts each (a 429 followed by a 503 still gets its retry)."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings


def build_web_client(token: str | None, base_url: str = "https://slack.com/api/", *,
                     timeout: int = 15) -> AsyncWebClient:
    return configure_web_client(AsyncWebClient(token=token), base_url, timeout=timeout)


def configure_web_client(client: AsyncWebClient, base_url: str = "https://slack.com/api/", *,
                         timeout: int = 15) -> AsyncWebClient:
    """Point `client` at `base_url` with our timeout and retries; also used on the client Bolt builds."""
    client.base_url = base_url if base_url.endswith("/") else base_url + "/"
    client.timeout = timeout
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


def client_from_settings(settings: Settings) -> AsyncWebClient:
    return build_web_client(settings.secret("slack_bot_token"), settings.slack_api_url)
