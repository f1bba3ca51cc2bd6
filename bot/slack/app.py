"""The Bolt AsyncApp: built from deps, with every listener registered and Slack's retried deliveries
answered without acting (a retry of a slow request must never start a second run)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.client import configure_web_client
from bot.slack.deps import SlackDeps
from bot.slack.listeners import register_listeners

log = logging.getLogger("golive.slack")


async def skip_retried_deliveries(req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]],
                                  ) -> BoltResponse | None:
    """Slack sets X-Slack-Retry-Num on redeliveries (HTTP; Bolt maps Socket Mode's `retry_attempt` to it);
    the first delivery already acted, so a retry is only acknowledged. Only 1 and up is a retry: Socket
    Mode can carry `retry_attempt: 0` on a first delivery."""
    attempt = retry_number(req.headers.get("x-slack-retry-num"))
    if attempt >= 1:
        log.info("acknowledged a retried Slack delivery without acting (retry %s)", attempt)
        return BoltResponse(status=200, body="")
    return await next()


def retry_number(values: Sequence[str] | str | None) -> int:
    """The retry number of a delivery from its header values; 0 for a first delivery or an unreadable value."""
    value = values if isinstance(values, str) or values is None else (values[0] if values else None)
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def new_slack_app(*, token: str | None, signing_secret: str | None, base_url: str) -> AsyncApp:
    """The Bolt app, built as Bolt intends: from the bot token, with Bolt's own Web API client (which
    golive then points at `base_url`, with its timeout and retries) and which golive uses too. Handing
    Bolt a client instead makes it read SLACK_BOT_TOKEN anyway and warn "`token` will be unused"."""
    app = AsyncApp(
        name="golive",
        token=token,
        signing_secret=signing_secret or "",
        process_before_response=False,
        logger=logging.getLogger("golive.slack.bolt"),
    )
    configure_web_client(app.client, base_url)
    return app


def install(app: AsyncApp, deps: SlackDeps) -> AsyncApp:
    """Every listener, behind the middleware that answers Slack's redeliveries without acting."""
    app.middleware(skip_retried_deliveries)
    register_listeners(app, deps)
    return app


def build_slack_app(deps: SlackDeps, *, signing_secret: str | None) -> AsyncApp:
    """A Bolt app over a client built elsewhere (`deps.client`)."""
    app = AsyncApp(
        name="golive",
        client=deps.client,
        signing_secret=signing_secret or "",
        process_before_response=False,
        logger=logging.getLogger("golive.slack.bolt"),
    )
    return install(app, deps)
