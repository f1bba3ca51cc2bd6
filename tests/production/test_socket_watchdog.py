"""`SocketModeConnection`, the one owner of Socket Mode reconnects, with slack_sdk's real client against
the stand-in: the SDK's own reconnects stay off; a session whose loops died silently is noticed and
reopened once; readiness says why it is not ready."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.diagnostics.degradations import degradations
from bot.serving.server import Readiness
from bot.slack.socket_mode import SocketModeConnection, SocketTiming
from tests.slack.socket_standin import SocketModeSlack
from tests.slack.support import APP_TOKEN, BOT_TOKEN

TIMING = SocketTiming(ping_interval=1.0, check_interval=0.05, hello_timeout=2.0, backoff_base=0.1, backoff_max=0.5)


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeSlack]:
    stub = await SocketModeSlack().start()
    yield stub
    await stub.close()


@pytest.fixture
async def connection(slack: SocketModeSlack) -> AsyncIterator[tuple[SocketModeConnection, list[str]]]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    app = AsyncApp(client=client, request_verification_enabled=False)
    received: list[str] = []

    @app.event("app_mention")
    async def mention(event: dict[str, Any]) -> None:
        received.append(event["text"])

    conn = SocketModeConnection(app, APP_TOKEN, client, timing=TIMING)
    conn.start()
    yield conn, received
    await conn.close()


def mention(envelope_id: str, text: str) -> dict[str, Any]:
    return {"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "payload": {"type": "event_callback", "team_id": "T0GOLIVE", "api_app_id": "A0GOLIVE",
                        "event": {"type": "app_mention", "text": text, "user": "U0X", "channel": "C0",
                                  "ts": "1.000100"}}}


async def eventually(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return value


async def test_the_sdk_never_reconnects_on_its_own(connection: tuple[SocketModeConnection, list[str]],
                                                   slack: SocketModeSlack) -> None:
    conn, received = connection
    await asyncio.wait_for(conn.connected_once.wait(), 10)
    assert conn.client.auto_reconnect_enabled is False and conn.client.default_auto_reconnect_enabled is False
    await slack.send(mention("e1", "hello"))
    await eventually(lambda: received == ["hello"], what="the envelope")
    await eventually(lambda: "e1" in {a.get("envelope_id") for a in slack.socket_acks}, what="the ack")
    # what slack_sdk calls on Slack's `disconnect` message goes to the supervisor, which already saw it
    await conn.client.connect_to_new_endpoint(force=True)
    await asyncio.sleep(0.3)
    assert len(slack.opens) == 1


async def test_a_session_whose_loops_died_is_reopened_once(connection: tuple[SocketModeConnection, list[str]],
                                                          slack: SocketModeSlack) -> None:
    conn, received = connection
    readiness = Readiness(timeout=1.0).add_socket(conn)
    await asyncio.wait_for(conn.connected_once.wait(), 10)
    assert (await readiness.report()).ready

    # the failure seen in production: the session stays open, its receive loop is gone
    slack.open_delay = 0.5
    assert conn.client.message_receiver is not None
    conn.client.message_receiver.cancel()
    await eventually(lambda: len(slack.opens) == 2, timeout=2, what="the reopen")
    report = await readiness.report()
    assert not report.ready and "receive loop has stopped" in report.checks["slack_socket"], report
    assert "slack_socket" in degradations.active()
    slack.open_delay = 0
    await eventually(lambda: conn.state == "connected", what="connected again")
    await slack.send(mention("e2", "again"))
    await eventually(lambda: "again" in received, what="delivery on the new session")
    assert (await readiness.report()).ready and degradations.active() == {}
    await asyncio.sleep(0.3)
    assert len(slack.opens) == 2


async def test_a_dead_message_processor_is_restarted(connection: tuple[SocketModeConnection, list[str]],
                                                     slack: SocketModeSlack) -> None:
    conn, received = connection
    await asyncio.wait_for(conn.connected_once.wait(), 10)
    conn.client.message_processor.cancel()
    await eventually(lambda: len(slack.opens) == 2 and conn.state == "connected", what="reopened")
    assert not conn.client.message_processor.done()
    await slack.send(mention("e3", "processed"))
    await eventually(lambda: "processed" in received, what="processing again")


@pytest.mark.parametrize(("answer", "permanent"), [
    ({"ok": False, "error": "invalid_auth"}, True),
    ({"ok": False, "error": "not_authed"}, True),
    ({"ok": False, "error": "missing_scope", "needed": "connections:write"}, True),
    ({"ok": False, "error": "not_allowed_token_type"}, True),
    ({"ok": False, "error": "internal_error"}, False),
    ({"ok": False, "error": "ratelimited"}, False),
    ({}, False),
])
def test_which_open_errors_are_permanent(answer: dict[str, Any], permanent: bool) -> None:
    from slack_sdk.errors import SlackApiError

    from bot.slack.socket_mode import app_token_problem

    problem = app_token_problem(SlackApiError("apps.connections.open failed", answer))
    assert (problem is not None) == permanent
    if problem:
        assert "SLACK_APP_TOKEN" in problem and "Basic Information → App-Level Tokens" in problem
        assert "\n" not in problem and str(answer["error"]) in problem


async def test_an_open_without_hello_is_retried_with_the_reason(slack: SocketModeSlack) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    timing = SocketTiming(ping_interval=1.0, check_interval=0.05, hello_timeout=0.4, backoff_base=0.1,
                          backoff_max=0.2)
    conn = SocketModeConnection(AsyncApp(client=client, request_verification_enabled=False), APP_TOKEN, client,
                                timing=timing)
    slack.withhold_hello = True
    conn.start()
    try:
        await eventually(lambda: len(slack.opens) >= 2, what="a second open after the missing hello")
        reason = conn.not_ready() or ""
        assert reason.startswith("Slack Socket Mode not connected yet") and "no hello from Slack" in reason, reason
        assert conn.startup_reason() == reason
        slack.release_hello()
        await asyncio.wait_for(conn.connected_once.wait(), 5)
        assert conn.not_ready() is None and conn.startup_reason() is None
    finally:
        await conn.close()
