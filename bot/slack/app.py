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
    """Slack sets X-Slack-Retry-Num on redeliveries (HTTP and Socket Mode alike); the first delivery
    already acted, so a retry is only acknowledged."""
    if req.headers.get("x-slack-retry-num"):
        log.info("acknowledged a retried Slack delivery without acting (retry %s)",
                 req.headers.get("x-slack-retry-num", ["?"])[0])
        return BoltResponse(status=200, body="")
    return await next()


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
