"""sentry.test_event against a local Sentry stand-in: real envelope ingest over HTTP and the events API."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sentry_sdk
from aiohttp import web

from bot.serving.server import start_web_app
from checks.result import Status
from tests.checks.conftest import PgCheckHarness, pg_text_of

PUBLIC_KEY = "5f0c1e2d3b4a59687766554433221100"
TOKEN = "golive-api-token-7c1d9e"
ORG = "acme"
PROJECT_ID = "4242"


@dataclass
class FakeSentry:
    """Just enough of Sentry: /api/<project>/envelope/ ingest and /api/0/projects/.../events/<id>/."""

    port: int = 0
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingest_status: int = 200
    store: bool = True
    not_found_polls: int = 1  # the API answers 404 this many times before the event is "processed"
    force_environment: str | None = None
    api_calls: int = 0

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.port}/{PROJECT_ID}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def envelope(self, request: web.Request) -> web.Response:
        if f"sentry_key={PUBLIC_KEY}" not in request.headers.get("X-Sentry-Auth", ""):
            return web.json_response({"detail": "bad key"}, status=401)
        if request.match_info["project"] != PROJECT_ID:
            return web.json_response({"detail": "no project"}, status=404)
        if self.ingest_status != 200:
            return web.json_response({"detail": "rejected"}, status=self.ingest_status)
        body = await request.read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        for line in body.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "event_id" in item and "level" in item and self.store:
                self.events[item["event_id"]] = item
        return web.json_response({"id": "ok"})

    async def event(self, request: web.Request) -> web.Response:
        self.api_calls += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"detail": "Invalid token"}, status=401)
        found = self.events.get(request.match_info["event_id"])
        if (request.match_info["org"], request.match_info["project"]) != (ORG, PROJECT_ID) or found is None:
            return web.json_response({"detail": "Event not found"}, status=404)
        if self.not_found_polls > 0:
            self.not_found_polls -= 1
            return web.json_response({"detail": "Event not found"}, status=404)
        env = self.force_environment or found.get("environment")
        tags = [{"key": k, "value": v} for k, v in (found.get("tags") or {}).items() if k != "environment"]
        tags.append({"key": "environment", "value": env})
        return web.json_response({"eventID": found["event_id"], "tags": tags, "message": found.get("message")})


@pytest.fixture
async def sentry() -> AsyncIterator[FakeSentry]:
    fake = FakeSentry()
    app = web.Application()
    app.router.add_post("/api/{project}/envelope/", fake.envelope)
    app.router.add_get("/api/0/projects/{org}/{project}/events/{event_id}/", fake.event)
    runner, fake.port = await start_web_app(app)
    try:
        yield fake
    finally:
        await runner.cleanup()


def params(sentry: FakeSentry, **extra: Any) -> dict[str, Any]:
    return {"dsn": sentry.dsn, "api_url": sentry.api_url, "poll_interval": 0.1, "wait_seconds": 10, **extra}


def assert_no_secrets(text: str) -> None:
    assert PUBLIC_KEY not in text
    assert TOKEN not in text


async def test_event_confirmed_through_the_api(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    before = sentry_sdk.get_global_scope().client
    outcome = await pg_checks.outcome("sentry.test_event", params(sentry, api_token=TOKEN, org=ORG))
    assert outcome.status is Status.PASS, outcome.summary
    assert "arrived in Sentry" in outcome.summary and "environment=production" in outcome.summary
    event = sentry.events[outcome.evidence["event_id"]]
    assert event["tags"]["golive_check"] == outcome.outputs["golive_check"]
    assert event["environment"] == "production" and event["tags"]["environment"] == "production"
    assert sentry.api_calls >= 2  # it kept polling through the first 404
    assert_no_secrets(pg_text_of(outcome))
    # The bot's own Sentry setup is untouched: no global client was installed or replaced.
    assert sentry_sdk.get_global_scope().client is before and not sentry_sdk.get_client().is_active()
    assert "golive_check" not in sentry_sdk.get_isolation_scope()._tags


async def test_through_the_runner_with_interpolated_dsn(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    pg_checks.env.update(HUNTER_SENTRY_DSN=sentry.dsn, SENTRY_API_TOKEN=TOKEN)
    result = await pg_checks.result("sentry.test_event", {
        "dsn": "${HUNTER_SENTRY_DSN}", "api_token": "${SENTRY_API_TOKEN:-}", "org": ORG, "environment": "staging",
        "api_url": sentry.api_url, "poll_interval": 0.1})
    assert result.status is Status.PASS, result.summary
    assert "environment=staging" in result.summary
    assert_no_secrets(pg_text_of(result))


async def test_without_a_token_a_person_must_confirm(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("sentry.test_event", params(sentry, api_token="", org=ORG))
    assert outcome.status is Status.WARN and outcome.needs_confirmation
    assert "please confirm in the Sentry UI" in outcome.summary and "environment=production" in outcome.summary
    assert outcome.evidence["event_id"] in sentry.events  # it was really sent
    assert sentry.api_calls == 0
    assert_no_secrets(pg_text_of(outcome))


async def test_event_never_arriving_fails_after_the_wait(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    sentry.store = False
    outcome = await pg_checks.outcome("sentry.test_event",
                                      params(sentry, api_token=TOKEN, org=ORG, wait_seconds=1))
    assert outcome.status is Status.FAIL
    assert "not seen in Sentry within 1 s" in outcome.summary and "HTTP 404" in outcome.summary


async def test_wait_is_capped_by_the_check_timeout(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    sentry.store = False
    result = await pg_checks.result("sentry.test_event", params(sentry, api_token=TOKEN, org=ORG, wait_seconds=60),
                                    timeout=4)
    assert result.status is Status.FAIL and "not seen in Sentry within" in result.summary  # not a bare timeout


async def test_wrong_environment_fails(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    sentry.force_environment = "development"
    outcome = await pg_checks.outcome("sentry.test_event", params(sentry, api_token=TOKEN, org=ORG))
    assert outcome.status is Status.FAIL
    assert "arrived with environment=development, expected production" in outcome.summary


async def test_rejected_token_fails_fast(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("sentry.test_event", params(sentry, api_token="wrong-token-123", org=ORG))
    assert outcome.status is Status.FAIL and "rejected the token (HTTP 401)" in outcome.summary
    assert sentry.api_calls == 1


async def test_ingest_rejection_fails(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    sentry.ingest_status = 403
    outcome = await pg_checks.outcome("sentry.test_event", params(sentry))
    assert outcome.status is Status.FAIL
    assert "rejected the test event: HTTP 403 (wrong DSN key or project?)" in outcome.summary
    assert_no_secrets(pg_text_of(outcome))


async def test_unreachable_sentry_fails(pg_checks: PgCheckHarness) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = await pg_checks.outcome("sentry.test_event", {"dsn": f"http://{PUBLIC_KEY}@127.0.0.1:{port}/1",
                                                            "flush_timeout": 5})
    assert outcome.status is Status.FAIL and "could not reach Sentry at 127.0.0.1" in outcome.summary
    assert_no_secrets(pg_text_of(outcome))


@pytest.mark.parametrize("dsn, reason", [
    ("not a dsn", "must start with https://"),
    (f"ftp://{PUBLIC_KEY}@sentry.example/1", "must start with https://"),
    ("https://sentry.example/1", "no public key"),
    (f"https://{PUBLIC_KEY}@sentry.example/project-name", "numeric project id"),
    (f"https://{PUBLIC_KEY}@/1", "no host"),
])
async def test_invalid_dsn_shape_fails_without_showing_it(dsn: str, reason: str, pg_checks: PgCheckHarness) -> None:
    outcome = await pg_checks.outcome("sentry.test_event", {"dsn": dsn})
    assert outcome.status is Status.FAIL
    assert outcome.summary.startswith("invalid Sentry DSN") and reason in outcome.summary
    assert_no_secrets(pg_text_of(outcome))
    assert dsn not in pg_text_of(outcome)


async def test_the_bots_own_global_sentry_is_left_alone(sentry: FakeSentry, pg_checks: PgCheckHarness) -> None:
    from sentry_sdk.transport import Transport

    class BotTransport(Transport):
        """Stands for the bot's own Sentry project: records what would have been sent there."""

        seen: list[Any] = []

        def capture_envelope(self, envelope: Any) -> None:
            BotTransport.seen.append(envelope)

    scope = sentry_sdk.get_global_scope()
    previous = scope.client
    sentry_sdk.init(dsn="https://0123456789abcdef@bot.example/1", transport=BotTransport,
                    default_integrations=False, environment="bot-env")
    bot_client = scope.client
    try:
        sentry_sdk.set_tag("bot_tag", "bot")
        outcome = await pg_checks.outcome("sentry.test_event", params(sentry))
        assert outcome.status is Status.WARN, outcome.summary
        assert scope.client is bot_client  # still the bot's client, still working
        sentry_sdk.capture_message("bot message")
    finally:
        sentry_sdk.get_isolation_scope().remove_tag("bot_tag")
        scope.set_client(previous)
        bot_client.close()
    assert len(BotTransport.seen) == 1 and BotTransport.seen[0].get_event()["message"] == "bot message"
    event = sentry.events[outcome.evidence["event_id"]]
    assert "bot_tag" not in event["tags"] and event["environment"] == "production"
