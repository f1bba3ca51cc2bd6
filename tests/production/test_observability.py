"""The bot's own logs and Sentry events: JSON lines in production, text on a terminal, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from bot.diagnostics.observability import (
    JsonFormatter,
    MaskingFilter,
    TextFormatter,
    choose_format,
    init_sentry,
    scrub_event,
    setup_logging,
    setup_observability,
)
from bot.settings import Settings
from checks.masking import masker

PG_PASSWORD = "s3cr3t-pg-pass"
DSN_KEY = "0123456789abcdef0123456789abcdef"
SLACK_TOKEN = "xoxb-1111-2222-abcdefghijklmnop"
DB_URL = f"postgresql://golive:{PG_PASSWORD}@db.internal:5432/golive"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def _record(msg: str, *args: Any, extra: dict[str, Any] | None = None, exc: bool = False) -> logging.LogRecord:
    logger = logging.getLogger("golive.test")
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"connect {DB_URL} failed")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    record = logger.makeRecord("golive.test", logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra)
    MaskingFilter().filter(record)
    return record


def test_json_line_has_the_fields_and_no_secret() -> None:
    masker.add(SLACK_TOKEN)
    record = _record("store %s down", DB_URL, extra={"component": "store", "token": SLACK_TOKEN,
                                                      "detail": {"url": DB_URL}}, exc=True)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert {"ts", "level", "logger", "msg"} <= set(data)
    assert data["level"] == "WARNING" and data["logger"] == "golive.test"
    assert data["msg"] == "store postgresql://golive:***@db.internal:5432/golive down"
    assert data["component"] == "store" and data["token"] == "***"
    assert "RuntimeError" in data["exc"]
    assert PG_PASSWORD not in line and SLACK_TOKEN not in line


def test_text_line_is_readable_and_masked() -> None:
    record = _record("using %s", DB_URL, extra={"component": "store"})
    text = TextFormatter().format(record)
    assert "WARNING" in text and "golive.test: using postgresql://golive:***@db.internal" in text
    assert "component=store" in text and PG_PASSWORD not in text


def test_auto_is_text_on_a_terminal_json_elsewhere() -> None:
    assert choose_format("auto", Tty()) == "text"
    assert choose_format("auto", io.StringIO()) == "json"
    assert choose_format("text", io.StringIO()) == "text"


def test_setup_logging_replaces_its_own_handler(restore_root: None) -> None:
    stream = io.StringIO()
    setup_logging(fmt="json", stream=io.StringIO())
    assert setup_logging(fmt="json", stream=stream, level="info") == "json"
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_golive_handler", False)]
    assert len(ours) == 1
    logging.getLogger("golive.x").info("redis at redis://:%s@cache:6379/0 is back", "hunter2pw",
                                       extra={"component": "redis"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["msg"] == "redis at redis://:***@cache:6379/0 is back" and data["component"] == "redis"


def test_setup_observability_registers_settings_secrets(restore_root: None, isolated_env: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "signing-secret-not-shaped-like-a-token"  # no pattern would catch it: only the settings can
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    settings = Settings(log_format="json")  # type: ignore[call-arg]
    assert settings.secret("slack_signing_secret") == secret
    stream = io.StringIO()
    info = setup_observability(settings, stream=stream)
    assert info["log_format"] == "json" and info["sentry"] is False
    logging.getLogger("golive.x").error("verifying with %s", secret)
    assert secret not in stream.getvalue() and "verifying with ***" in stream.getvalue()


class CaptureTransport(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [item.payload.json for env in self.envelopes for item in env.items
                if item.type == "event" and item.payload.json]


def test_sentry_events_are_tagged_and_scrubbed(isolated_env: None) -> None:
    transport = CaptureTransport()
    settings = Settings(sentry_dsn=f"https://{DSN_KEY}@o1.ingest.sentry.io/42", environment="production",  # type: ignore[call-arg]
                        release="golive@9.9.9")
    try:
        assert init_sentry(settings, transport=transport, default_integrations=False)
        try:
            raise ConnectionError(f"cannot reach {DB_URL} with {SLACK_TOKEN}")
        except ConnectionError as exc:
            with sentry_sdk.new_scope() as scope:
                scope.set_extra("database_url", DB_URL)
                scope.set_context("request_like", {"body": f"token={SLACK_TOKEN}"})
                sentry_sdk.capture_exception(exc)
        sentry_sdk.flush()
        events = transport.events()
        assert len(events) == 1
        event = events[0]
        assert event["environment"] == "production" and event["release"] == "golive@9.9.9"
        assert event["tags"]["service"] == "golive"
        dumped = json.dumps(event)
        assert PG_PASSWORD not in dumped and SLACK_TOKEN not in dumped and DSN_KEY not in dumped
        assert "cannot reach postgresql://golive:***@db.internal" in dumped
        assert "user" not in event or "ip_address" not in event.get("user", {})
    finally:
        sentry_sdk.init(dsn=None)


def test_scrub_event_drops_request_bodies_and_auth_headers() -> None:
    event = {"request": {"url": "https://bot/slack/events", "data": {"text": "run day1"}, "cookies": "a=b",
                         "headers": {"X-Slack-Signature": "v0=abc", "Authorization": "Bearer abcdefghijklmnop",
                                     "Content-Type": "application/json"}},
             "message": f"failed with {DB_URL}"}
    out = scrub_event(event)
    assert "data" not in out["request"] and "cookies" not in out["request"]
    assert out["request"]["headers"]["X-Slack-Signature"] == "***"
    assert out["request"]["headers"]["Authorization"] == "***"
    assert out["request"]["headers"]["Content-Type"] == "application/json"
    assert PG_PASSWORD not in json.dumps(out)


def test_no_sentry_without_dsn(isolated_env: None) -> None:
    assert init_sentry(Settings()) is False  # type: ignore[call-arg]
