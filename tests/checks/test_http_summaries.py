"""An HTTP failure summary names the cause: the body's own error field when the status is wrong; missing
JSON fields only when the status is right (an error body lacks them all, which says nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.kinds.http import body_error
from checks.result import Status
from tests.checks.http_fixtures import run_one

READY = """
- id: health.ready
  kind: http
  params:
    url: /healthz/ready
    status_messages: {503: not ready}
    expect_json: {status: ready, checks.database: true, checks.redis: true}
"""


@pytest.fixture
async def readiness() -> AsyncIterator[tuple[dict[str, Any], str]]:
    """A readiness probe whose answer (status and body) the test sets."""
    answer: dict[str, Any] = {"status": 503, "body": {"detail": "Redis unavailable: Error 111 connecting to "
                                                                 "redis:6379. Connection refused."}}

    async def ready(request: web.Request) -> web.Response:
        return web.json_response(answer["body"], status=answer["status"])

    app = web.Application()
    app.router.add_get("/healthz/ready", ready)
    runner, port = await start_web_app(app)
    yield answer, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_503_with_a_detail_body_is_summarised_by_that_detail(
        readiness: tuple[dict[str, Any], str]) -> None:
    _, url = readiness
    result = await run_one(url, READY)
    assert result.status is Status.FAIL
    assert result.summary == ("not ready: HTTP 503, expected 200: Redis unavailable: Error 111 connecting to "
                              "redis:6379. Connection refused. — GET /healthz/ready")
    assert "missing" not in result.summary and "checks.database" not in result.summary
    assert result.evidence["body_error"].startswith("Redis unavailable")


async def test_a_wrong_status_without_an_error_field_names_wrong_values_not_missing_ones(
        readiness: tuple[dict[str, Any], str]) -> None:
    answer, url = readiness
    answer["body"] = {"status": "degraded", "checks": {"redis": False}}
    result = await run_one(url, READY)
    assert result.summary.startswith("not ready: HTTP 503, expected 200 — GET /healthz/ready; ")
    assert "status is 'degraded'" in result.summary and "checks.redis is false" in result.summary.lower()
    assert "checks.database is missing" not in result.summary


async def test_with_the_right_status_missing_fields_are_listed(readiness: tuple[dict[str, Any], str]) -> None:
    answer, url = readiness
    answer.update(status=200, body={"status": "ready", "checks": {"redis": True}})
    result = await run_one(url, READY)
    assert result.status is Status.FAIL
    assert result.summary.startswith("checks.database is missing")


def test_body_error_reads_the_common_shapes() -> None:
    assert body_error({"error": "quota exceeded"}) == "quota exceeded"
    assert body_error({"error": {"code": 7, "message": "token expired"}}) == "token expired"
    validation = {"detail": [{"loc": ["query", "limit"], "msg": "must be <= 100"}]}
    assert body_error(validation) == "query.limit: must be <= 100"
    assert body_error({"message": "  multi\n line  "}) == "multi line"
    assert body_error({"items": []}) is None and body_error(["detail"]) is None
    assert body_error({"detail": "postgresql://app:Sup3r-secret@db/app refused"}) is not None
    assert "Sup3r-secret" not in (body_error({"detail": "postgresql://app:Sup3r-secret@db/app refused"}) or "")
