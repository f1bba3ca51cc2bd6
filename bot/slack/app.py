"""The Bolt AsyncApp: built from deps, with every listener registered and Slack's retried deliveries
answered without acting (a retry of a slow request must never start a second run)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

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


def retry_number(values: list[str] | str | None) -> int:
    """The retry number of a delivery from its header values; 0 for a first delivery or an unreadable value."""
    value = values[0] if isinstance(values, list) and values else values
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def build_slack_app(deps: SlackDeps, *, signing_secret: str | None) -> AsyncApp:
    app = AsyncApp(
        name="golive",
        client=deps.client,
        signing_secret=signing_secret or "",
        process_before_response=False,
        logger=logging.getLogger("golive.slack.bolt"),
    )
    app.middleware(skip_retried_deliveries)
    register_listeners(app, deps)
    return app
