"""A background post the Bot Connector refuses (413 MessageSizeTooBig) never reaches the channel as text:
no exception, no status, no connector URL. The run's card ends with its verdict (not "Running") and
`golive status --run <id>` for the evidence, or one plain line when no card can be posted at all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from microsoft_agents.activity import ConversationReference

from bot.teams.cardkit import card, text
from tests.teams.conftest import TECH_LEAD, TeamsClient
from tests.teams.support import CHANNEL, Connector, ConnectorCall, card_text, cards_of, message, user

TOO_BIG = {"error": {"code": "MessageSizeTooBig", "message": "Message size too big"}}


class RefusingConnector(Connector):
    """The local Bot Connector, answering 413 as Teams does to the activities `refuse` picks (recorded
    as `refused`, not as calls that reached the channel)."""

    refuse: Callable[[str, dict[str, Any]], bool] = staticmethod(lambda method, body: False)
    refused: list[ConnectorCall]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        activity_id = request.match_info.get("activity")
        call = ConnectorCall(request.method, request.path, request.match_info["conversation"], activity_id, body)
        if self.refuse(request.method, body):
            self.refused.append(call)
            return web.json_response(TOO_BIG, status=413)
        self.calls.append(call)
        self.changed.set()
        return web.json_response({"id": activity_id if request.method == "PUT" else f"msg-{next(self._ids)}"})


@pytest.fixture
async def connector() -> AsyncIterator[RefusingConnector]:
    stub = RefusingConnector()
    stub.refused = []
    await stub.start()
    yield stub
    await stub.close()


def full_run_card(method: str, body: dict[str, Any]) -> bool:
    """The full final card of a run (the one with its facts table) is too big for this connector."""
    return any("Wall time" in card_text(card) for card in cards_of(body))


def any_card(method: str, body: dict[str, Any]) -> bool:
    return bool(cards_of(body))


def visible(body: dict[str, Any]) -> str:
    """What people in the channel could read of a posted activity (not its routing fields)."""
    return " ".join([body.get("text") or "", body.get("summary") or "", card_text(cards_of(body))])


def leaked(connector: Connector) -> list[str]:
    """Whatever reached the channel that shows the error's internals."""
    markers = ("MessageSizeTooBig", "Exception", urlsplit(connector.url).netloc, "/v3/conversations",
               "Traceback", "ResponseError")
    status = re.compile(r"(?<![\d.:])413(?![\d])")  # the status, not a port like 127.0.0.1:41333 in evidence
    return [visible(c.body) for c in connector.calls
            if any(m in visible(c.body) for m in markers) or status.search(visible(c.body))]


async def start_run(client: TeamsClient, connector: Connector) -> None:
    status, _ = await client.post(message("run day3", client.service_url, user(TECH_LEAD, "Tess")))
    assert status in (200, 202)
    await client.transport.bot.drain()


async def test_a_refused_final_card_ends_as_a_short_card_with_the_status_command(
        client: TeamsClient, connector: RefusingConnector) -> None:
    connector.refuse = full_run_card
    await start_run(client, connector)

    assert connector.refused, "the connector never refused anything: the test proves nothing"
    assert leaked(connector) == []
    [run] = client.transport.bot.chatops.store.runs(checklist="teams-test")
    final = [card for c in connector.calls if c.method == "PUT" and c.activity_id == "msg-1000"
             for card in cards_of(c.body)][-1]
    assert "Run day3 — NO-GO" in card_text(final) and "Running" not in card_text(final)
    assert f"golive status --run {run.id}" in card_text(final)
    assert run.status != "running"


async def test_when_no_card_can_be_posted_one_plain_line_says_so(client: TeamsClient,
                                                                 connector: RefusingConnector) -> None:
    connector.refuse = lambda method, body: any_card(method, body) and (method == "PUT" or "Running" not in
                                                                        card_text(cards_of(body)))
    await start_run(client, connector)

    assert connector.refused
    assert leaked(connector) == []
    texts = [c.body.get("text") or "" for c in connector.calls if not cards_of(c.body)]
    [run] = client.transport.bot.chatops.store.runs(checklist="teams-test")
    assert any(f"golive status --run {run.id}" in t and "NO-GO" in t for t in texts), texts
    assert run.status != "running"


async def test_any_other_background_failure_is_one_plain_line(client: TeamsClient,
                                                              connector: RefusingConnector) -> None:
    """Whatever fails in a proactive turn goes to the adapter's error handler, not the SDK's default
    (which would post `Exception caught : 413 ... http://…/v3/conversations/…` here)."""
    connector.refuse = any_card
    reference = ConversationReference.model_validate({
        "channelId": "msteams", "serviceUrl": client.service_url, "conversation": {"id": CHANNEL},
        "bot": {"id": "28:golive-bot"}})

    await client.transport.bot.proactive.post(reference, card([text("hello")], fallback="hello"))

    assert connector.refused and leaked(connector) == []
    [line] = [c.body.get("text") for c in connector.calls]
    assert line == "golive could not post a message here; it is logged and nothing changed."
