"""Unsigned or malformed requests to /slack/events: 401, never a 500 (so never a Sentry event), and
their bodies are never logged (a 900 KB body once went to the INFO log whole)."""

from __future__ import annotations

import logging

import pytest

from tests.slack.support import SlackStub, post_signed, running_bot, slash_command


@pytest.mark.parametrize("headers", [
    {"X-Slack-Request-Timestamp": "not-a-number"},
    {"X-Slack-Request-Timestamp": "1e9"},
    {"X-Slack-Request-Timestamp": ""},
    {"X-Slack-Signature": "v0=deadbeef"},
    {"X-Slack-Signature": ""},
], ids=["words", "float", "empty-ts", "wrong-signature", "empty-signature"])
async def test_bad_signature_headers_get_401_and_no_body_in_the_logs(stub: SlackStub, checklist, store, headers,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "UNSIGNED-BODY-MARKER-"
    body = slash_command("status", response_url=stub.response_url()) + "&junk=" + marker + "x" * 900_000
    async with running_bot(stub, checklist, store) as bot:
        answer = await post_signed(bot.events_url, body, headers=headers)
        assert answer.status == 401, answer.body[:200]
        unsigned = await post_signed(bot.events_url, body, signed=False)
        assert unsigned.status == 401
    assert marker not in caplog.text and len(caplog.text) < 20_000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "refused" in caplog.text  # one short line says what happened
    assert stub.of("response_url") == []
