"""Test doubles for Teams: a local Bot Connector (the serviceUrl) that records every call the bot makes,
real Activity JSON as Teams sends it, and the Adaptive Card schema check."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.post_limit import PostLimit

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "adaptive-cards" / "adaptive-card-1.5.0.json"
"""A verbatim copy of Microsoft's schema, in the repository (tests/schemas/README.md)."""

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"  # an invoke answered with a text, not a card
CHANNEL = "19:release0channel@thread.tacv2"
TENANT = "tenant-0000"
BOT = {"id": "28:golive-bot", "name": "golive"}


@dataclass
class ConnectorCall:
    method: str
    path: str
    conversation: str
    activity_id: str | None
    body: dict[str, Any]
    answered: str | None = None  # the id the connector gave the message



@dataclass
class Connector:
    """A Bot Connector on localhost: answers POST/PUT on /v3/conversations/{id}/activities[/{id}] with a
    fresh id and records each call."""

    calls: list[ConnectorCall] = field(default_factory=list)
    server: TestServer | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    limit: tuple[int, float] | None = None
    """(burst, seconds per message): posts beyond it in one conversation get 429 with Retry-After, like Teams."""
    personal: dict[str, str] = field(default_factory=dict)  # 1:1 conversation id -> member id
    failures: dict[str, list[tuple[int, dict[str, str], Any]]] = field(default_factory=dict)

    def fail_next(self, method: str, *, status: int = 429, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | str | None = None, times: int = 1) -> None:
        """The next `times` POSTs or PUTs to a shared conversation (not a 1:1 chat) get this answer, as the
        Bot Connector gives it: 429 with Retry-After, a 5xx, or a proxy's text/html page (a str body)."""
        headers = headers if headers is not None else ({"Retry-After": "0.05"} if status == 429 else {})
        body = body if body is not None else {"error": {"code": "throttled" if status == 429 else "ServiceError",
                                                        "message": "try again later"}}
        self.failures.setdefault(method, []).extend([(status, headers, body)] * times)

    def __post_init__(self) -> None:
        self._post_limit = PostLimit(self.limit)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    async def start(self) -> Connector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_route("*", "/v3/conversations/{conversation}/activities", self._handle)
        app.router.add_route("*", "/v3/conversations/{conversation}/activities/{activity}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _create(self, request: web.Request) -> web.Response:
        """POST /v3/conversations: the bot opens (or finds) its 1:1 chat with one member."""
        body = await request.json()
        member = (body.get("members") or [{}])[0].get("id", "")
        conversation = f"a:personal-{member}"
        self.personal[conversation] = member
        self.calls.append(ConnectorCall("CREATE", request.path, conversation, None, body))
        return web.json_response({"id": conversation})

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        activity_id = request.match_info.get("activity")
        queued = self.failures.get(request.method)
        if queued and request.match_info["conversation"] not in self.personal:
            status, headers, answer = queued.pop(0)
            self.calls.append(ConnectorCall(f"{request.method}!{status}", request.path,
                                            request.match_info["conversation"], activity_id, body))
            if isinstance(answer, str):
                return web.Response(text=answer, status=status, headers=headers, content_type="text/html")
            return web.json_response(answer, status=status, headers=headers)
        if request.method == "POST" and self._post_limit.throttled(request.match_info["conversation"]):
            self.calls.append(ConnectorCall("POST!429", request.path, request.match_info["conversation"],
                                            activity_id, body))
            return web.json_response({"error": {"code": "throttled"}}, status=429, headers={"Retry-After": "0.2"})
        new_id = activity_id if request.method == "PUT" else f"msg-{next(self._ids)}"
        self.calls.append(ConnectorCall(request.method, request.path, request.match_info["conversation"],
                                        activity_id, body, new_id))
        self.changed.set()
        return web.json_response({"id": new_id})

    def private(self, member: str) -> list[dict[str, Any]]:
        """The cards posted in the bot's 1:1 chat with `member`."""
        return [card for call in self.calls if call.method == "POST" and self.personal.get(call.conversation) == member
                for card in cards_of(call.body)]

    def cards(self, method: str | None = None) -> list[dict[str, Any]]:
        return [card for call in self.calls if method in (None, call.method) for card in cards_of(call.body)]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        async def poll() -> None:
            while not predicate(self):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(poll(), timeout)


def cards_of(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["content"] for a in activity.get("attachments") or [] if a.get("contentType") == CARD_TYPE]


def card_text(card: Any) -> str:
    """Every string in a card, joined, without markdown emphasis: what a reader could see."""
    if isinstance(card, dict):
        return " ".join(card_text(v) for v in card.values())
    if isinstance(card, list):
        return " ".join(card_text(v) for v in card)
    return card.replace("**", "") if isinstance(card, str) else ""


def find_actions(card: Any, kind: str = "Action.Execute") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(card, dict):
        if card.get("type") == kind:
            found.append(card)
        for value in card.values():
            found += find_actions(value, kind)
    elif isinstance(card, list):
        for value in card:
            found += find_actions(value, kind)
    return found


# -- activities, as Teams posts them ------------------------------------------------------------------------
_seq = itertools.count(1)


def user(aad: str, name: str = "") -> dict[str, Any]:
    return {"id": f"29:{aad}", "name": name or aad, "aadObjectId": aad}


def base_activity(kind: str, service_url: str, sender: dict[str, Any], *, conversation: str = CHANNEL,
                  expect_replies: bool = False, activity_id: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": kind, "id": activity_id or f"act-{next(_seq)}", "channelId": "msteams", "serviceUrl": service_url,
        "timestamp": "2025-01-01T00:00:00.000Z", "from": sender, "recipient": BOT, "locale": "en-US",
        "conversation": {"id": conversation, "conversationType": "channel", "isGroup": True, "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}, "channel": {"id": CHANNEL.split(";")[0]},
                        "team": {"id": CHANNEL.split(";")[0]}},
    }
    if expect_replies:
        activity["deliveryMode"] = "expectReplies"
    return activity


def message(text: str, service_url: str, sender: dict[str, Any], *, mention: bool = True, **kw: Any) -> dict[str, Any]:
    activity = base_activity("message", service_url, sender, conversation=f"{CHANNEL};messageid={next(_seq)}", **kw)
    activity["textFormat"] = "plain"
    if mention:
        activity["text"] = f"<at>golive</at> {text}"
        activity["entities"] = [{"type": "mention", "text": "<at>golive</at>", "mentioned": BOT}]
    else:
        activity["text"] = text
    return activity


def execute(verb: str, data: dict[str, Any], service_url: str, sender: dict[str, Any], *,
            reply_to: str = "msg-1", **kw: Any) -> dict[str, Any]:
    activity = base_activity("invoke", service_url, sender, **kw)
    activity.update(name="adaptiveCard/action", replyToId=reply_to,
                    value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"})
    return activity


def submit(data: dict[str, Any], service_url: str, sender: dict[str, Any], *, reply_to: str = "msg-1",
           **kw: Any) -> dict[str, Any]:
    activity = base_activity("message", service_url, sender, **kw)
    activity.update(replyToId=reply_to, value=data)
    return activity


def pressed(action: dict[str, Any], **inputs: str) -> tuple[str, dict[str, Any]]:
    """What Teams sends for a click on `action`: its verb, and its data merged with the card's inputs."""
    return action["verb"], {**action.get("data", {}), **inputs}


# -- the Adaptive Card schema ---------------------------------------------------------------------------
def card_validator() -> Any:
    from jsonschema import Draft6Validator

    return Draft6Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def assert_valid_card(card: dict[str, Any]) -> None:
    """The card validates against the official 1.5 schema (Teams' own top-level `msteams` key aside)."""
    from jsonschema.exceptions import best_match

    assert card.get("type") == "AdaptiveCard" and card.get("version") == "1.5", card
    bare = copy.deepcopy(card)
    bare.pop("msteams", None)
    errors = list(card_validator().iter_errors(bare))
    if errors:
        error = best_match(errors)
        pytest.fail(f"card fails the Adaptive Card 1.5 schema at {list(error.absolute_path)}: {error.message}\n"
                    f"{json.dumps(card, indent=1)[:3000]}")
