"""Ack-first: signed commands and clicks get their 200 before Bolt runs (and Bolt still runs them);
a bad signature and requests whose ack carries content (view submissions) go through Bolt as usual."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.async_app import AsyncApp

from bench.harness import SIGNING_SECRET, SlackStub, button_click, signed_headers, slash_command
from bot.serving.server import RouteAdder, build_web_app
from bot.slack.ackfirst import acks_empty
from bot.slack.http import slack_routes


def bolt_app(seen: list[str], stub: SlackStub) -> AsyncApp:
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(signing_secret=SIGNING_SECRET, client=AsyncWebClient(token="xoxb-test", base_url=stub.url))

    @app.command("/golive")
    async def command(ack, body) -> None:  # type: ignore[no-untyped-def]
        await ack()
        seen.append("command:" + body["text"])

    @app.action("approve")
    async def click(ack) -> None:  # type: ignore[no-untyped-def]
        await ack()
        seen.append("click")

    @app.view("reason")
    async def submit(ack) -> None:  # type: ignore[no-untyped-def]
        await ack(response_action="errors", errors={"reason": "say why"})
        seen.append("view")

    return app


async def client(routes: RouteAdder) -> TestClient:
    from bot.serving.server import Health

    c = TestClient(TestServer(build_web_app(Health.__new__(Health), routes)))
    await c.start_server()
    return c


async def test_commands_and_clicks_are_acked_then_handled() -> None:
    seen: list[str] = []
    stub = SlackStub().start()  # answers the auth.test Bolt makes before the first request
    c = await client(slack_routes(bolt_app(seen, stub)))
    try:
        body = slash_command("status")
        resp = await c.post("/slack/events", data=body, headers=signed_headers(body))
        assert resp.status == 200 and await resp.text() == ""
        body = button_click("approve", "r:role", user="U1", message_ts="1.1")
        assert (await c.post("/slack/events", data=body, headers=signed_headers(body))).status == 200
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(seen) == ["click", "command:status"]
    finally:
        await c.close()
        stub.stop()


async def test_bad_signature_and_view_submissions_go_through_bolt() -> None:
    seen: list[str] = []
    stub = SlackStub().start()  # answers the auth.test Bolt makes before the first request
    c = await client(slack_routes(bolt_app(seen, stub)))
    try:
        body = slash_command("status")
        resp = await c.post("/slack/events", data=body, headers=signed_headers(body, secret="wrong-secret"))
        assert resp.status == 401
        resp = await c.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 401  # no signature headers at all
        payload = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"},
                   "view": {"id": "V1", "type": "modal", "callback_id": "reason", "state": {"values": {}}}}
        body = urlencode({"payload": json.dumps(payload)})
        resp = await c.post("/slack/events", data=body, headers=signed_headers(body))
        assert resp.status == 200 and (await resp.json())["response_action"] == "errors"
        await asyncio.sleep(0.1)
        assert seen == ["view"]
    finally:
        await c.close()
        stub.stop()


def test_only_empty_acks_are_fast() -> None:
    assert acks_empty(slash_command("run day1"))
    assert acks_empty(button_click("approve", "x", user="U", message_ts="1"))
    assert not acks_empty(urlencode({"payload": json.dumps({"type": "view_submission"})}))
    assert not acks_empty('{"type": "url_verification", "challenge": "x"}')
