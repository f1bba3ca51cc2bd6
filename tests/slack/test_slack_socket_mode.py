"""Socket Mode (`golive serve` without --http): the same app receives over a websocket, through the
connection `golive serve` uses (`SocketModeConnection`), acks every envelope, and ignores redeliveries
(retry_attempt >= 1), against the stand-in's apps.connections.open + socket. Bolt is built as it intends
(from the token): no "`token` will be unused" warning even with SLACK_BOT_TOKEN in the environment."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import AsyncIterator

import pytest

from bot.chatops.service import ChatOps
from bot.slack.runtime import build_slack_bot
from bot.slack.socket_mode import SocketModeConnection
from tests.slack.socket_standin import SocketModeSlack
from tests.slack.support import APP_TOKEN, BOT_TOKEN, bot_settings, running_bot, slash_command


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeSlack]:
    stub = await SocketModeSlack().start()
    yield stub
    await stub.close()


async def test_slash_command_over_socket_mode(slack: SocketModeSlack, checklist, store) -> None:  # type: ignore[no-untyped-def]
    async with running_bot(slack, checklist, store) as bot:
        connection = SocketModeConnection(bot.bot.app, APP_TOKEN, bot.bot.deps.client)
        connection.start()
        try:
            payload = dict(urllib.parse.parse_qsl(slash_command("help", response_url=slack.response_url("ws"))))
            await slack.socket_envelopes.put({"envelope_id": "env-1", "type": "slash_commands",
                                              "accepts_response_payload": True, "payload": payload})
            retry = dict(payload, text="status", trigger_id="retried.trigger")
            await slack.socket_envelopes.put({"envelope_id": "env-2", "type": "slash_commands", "retry_attempt": 1,
                                              "retry_reason": "timeout", "accepts_response_payload": True,
                                              "payload": retry})
            await slack.wait_for(lambda: {a.get("envelope_id") for a in slack.socket_acks} >= {"env-1", "env-2"},
                                 what="both envelopes acknowledged")
            reply = await slack.wait_for(lambda: slack.of("response_url"), what="help over the socket")
            assert "/golive run" in reply[0].blocks_json
            assert slack.posts() == []  # the retried `status` did nothing
            assert len(slack.opens) == 1
        finally:
            await connection.close()
        slack.assert_clean()


async def test_bolt_is_built_without_the_token_unused_warning(slack: SocketModeSlack, checklist, store,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    caplog.set_level(logging.DEBUG, logger="golive.slack.bolt")
    bot = build_slack_bot(bot_settings(slack), ChatOps(store, checklist))
    assert not [r for r in caplog.records if "will be unused" in r.getMessage()]
    assert bot.app.client is bot.deps.client  # one Web API client: Bolt's, with golive's base URL and retries
    assert bot.deps.client.base_url == slack.api_url and len(bot.deps.client.retry_handlers) == 3
    await bot.start()  # auth.test goes to the stand-in through that client
    await bot.stop()
    assert slack.of("auth.test")
