"""Socket Mode (`golive serve` without --http): the same app receives over a websocket, acks every
envelope, and ignores redeliveries (retry_attempt), against the stub's apps.connections.open + socket."""

from __future__ import annotations

import urllib.parse

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from tests.slack.support import APP_TOKEN, SlackStub, running_bot, slash_command


async def test_slash_command_over_socket_mode(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        handler = AsyncSocketModeHandler(bot.bot.app, APP_TOKEN, web_client=bot.bot.deps.client)
        await handler.connect_async()
        try:
            payload = dict(urllib.parse.parse_qsl(slash_command("help", response_url=stub.response_url("ws"))))
            await stub.socket_envelopes.put({"envelope_id": "env-1", "type": "slash_commands",
                                             "accepts_response_payload": True, "payload": payload})
            retry = dict(payload, text="status", trigger_id="retried.trigger")
            await stub.socket_envelopes.put({"envelope_id": "env-2", "type": "slash_commands", "retry_attempt": 1,
                                             "retry_reason": "timeout", "accepts_response_payload": True,
                                             "payload": retry})
            await stub.wait_for(lambda: {a.get("envelope_id") for a in stub.socket_acks} >= {"env-1", "env-2"},
                                what="both envelopes acknowledged")
            reply = await stub.wait_for(lambda: stub.of("response_url"), what="help over the socket")
            assert "/golive run" in reply[0].blocks_json
            assert stub.posts() == []  # the retried `status` did nothing
            assert len(stub.of("apps.connections.open")) >= 1
        finally:
            await handler.close_async()
        stub.assert_clean()
