"""Holes 1, 3 and 4 of issue 21, against the local Bot Connector refusing as Teams does: one 429 on an
in-turn reply loses nothing (it is retried after Retry-After) and is never called an internal error; a
click on a moved sign-off card updates the current card and leaves the old one a pointer; a reject
reason is shown as typed, never as Markdown."""

from __future__ import annotations

from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.signoff.service import RoleDecision, SignoffRequest
from bot.teams import cards
from bot.teams.ids import VERB_SIGNOFF
from tests.teams.conftest import OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import Connector, card_text, cards_of, execute, find_actions, message, user


def channel_posts(connector: Connector) -> list[Any]:
    return [c for c in connector.calls if c.method == "POST" and c.conversation not in connector.personal]


def shown(call: Any) -> str:
    return card_text(cards_of(call.body)) or str(call.body.get("text") or "")


async def test_one_429_on_an_in_turn_reply_still_delivers_the_status_card(client: TeamsClient,
                                                                         connector: Connector) -> None:
    connector.fail_next("POST", status=429, headers={"Retry-After": "0.05"})
    status, _ = await client.post(message("status", client.service_url, user(TECH_LEAD)))
    assert status in (200, 202)
    await client.transport.bot.drain()
    [throttled] = [c for c in connector.calls if c.method == "POST!429"]
    [posted] = channel_posts(connector)
    assert "teams-test" in shown(posted) and "internal error" not in shown(posted).lower()
    assert posted.body == throttled.body  # the very same status card, sent again after the wait


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def send_activity(self, text: str) -> None:
        self.lines.append(text)


async def test_a_429_that_outlasts_the_retries_is_not_called_an_internal_error(client: TeamsClient) -> None:
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "30"}))
    url = URL("https://smba.trafficmanager.net/teams/v3/conversations/19%3Ax/activities")
    info = aiohttp.RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict()), url)
    throttled = aiohttp.ClientResponseError(info, (), status=429, message="Too Many Requests", headers=headers)
    context = Said()
    await client.transport.bot.on_error(context, throttled)  # type: ignore[arg-type]  # reason: only send_activity is used
    [line] = context.lines
    assert "internal error" not in line.lower() and "ClientResponseError" not in line
    assert "429" in line and "try again" in line


async def test_a_click_on_a_moved_card_updates_the_current_card(client: TeamsClient, connector: Connector) -> None:
    for _ in range(2):
        status, _ = await client.post(message("signoff pre", client.service_url, user(OUTSIDER)))
        assert status in (200, 202)
    old, current = [c.answered for c in channel_posts(connector)]
    [pointer] = [c for c in connector.calls if c.method == "PUT" and c.activity_id == old]
    assert "moved" in shown(pointer)
    request = client.transport.bot.chatops.store.db.fetchone("SELECT id FROM signoff_requests")
    assert request is not None
    click = execute(VERB_SIGNOFF, {"request": request["id"], "role": "tech_lead", "decision": "approve"},
                    client.service_url, user(TECH_LEAD), reply_to=old)
    status, answer = await client.post(click)
    assert status == 200
    await client.transport.bot.drain()
    old_puts = [c for c in connector.calls if c.method == "PUT" and c.activity_id == old]
    assert old_puts == [pointer]  # the old card was not revived: nothing PUT over the pointer
    [updated] = [c for c in connector.calls if c.method == "PUT" and c.activity_id == current]
    assert "approved by" in shown(updated).lower() and find_actions(cards_of(updated.body))
    assert "moved" in card_text(answer["value"])  # the clicker's view of the old card stays a pointer
    assert find_actions(answer["value"]) == []


def test_a_reject_reason_is_shown_as_typed_never_as_markdown() -> None:
    from checks.loader import parse_checklist

    checklist = parse_checklist("""
name: md
phases: [{id: day1, checks: [{id: a, kind: redis.ping, params: {url: 'redis://127.0.0.1:1/0'}}]}]
signoffs:
  pre: {roles: [{id: qa, title: QA, members: [aad-qa]}]}
""")
    stage = checklist.signoffs["pre"]
    reason = "**ship it** [later](https://evil.example) - not now"
    request = SignoffRequest(id="r1", stage="pre", checklist="md", run_id=None, requested_by="aad-x",
                             created_at=None)  # type: ignore[arg-type]  # reason: not shown on the card
    request.decisions["qa"] = RoleDecision(role="qa", decision="reject", user_id="aad-qa", reason=reason,
                                           decided_at=None)  # type: ignore[arg-type]  # reason: not shown on the card
    card = cards.signoff_card(request, stage)
    blocks = [b for b in walk(card) if reason in str(b.get("text", ""))]
    assert blocks and all(b["type"] == "TextRun" for b in blocks)  # a TextRun is never read as Markdown


def walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(x for v in node.values() for x in walk(v))]
    if isinstance(node, list):
        return [x for v in node for x in walk(v)]
    return []
