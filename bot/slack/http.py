"""The Slack endpoint on the shared aiohttp web app: POST /slack/events (commands and interactivity)."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.serving.server import RouteAdder
from bot.slack.ackfirst import AckFirst, refuse_unsigned

SLACK_PATH = "/slack/events"


def slack_routes(bolt_app: AsyncApp, path: str = SLACK_PATH) -> RouteAdder:
    ack_first = AckFirst(bolt_app)  # commands and clicks: 200 at once, Bolt after the burst (bot/slack/ackfirst.py)

    async def slack_events(request: web.Request) -> web.Response:
        try:
            early = await ack_first.try_ack(request)
        except ValueError:  # malformed headers: refused here, Bolt never sees (nor logs) the body
            early = refuse_unsigned(request.content_length or 0, request.headers.get("X-Slack-Request-Timestamp", ""))
        if early is not None:
            return early
        bolt_response = await bolt_app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    def add(app: web.Application) -> None:
        app.router.add_post(path, slack_events)

    return add
