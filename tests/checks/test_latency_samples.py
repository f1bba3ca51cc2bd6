"""A latency ceiling is judged on the median of warm samples taken in the quiet lane; a write is sent once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import lane_of
from tests.checks.http_fixtures import run_one


@pytest.fixture
async def counting() -> AsyncIterator[tuple[dict[str, int], str]]:
    calls = {"GET": 0, "POST": 0}

    async def handler(request: web.Request) -> web.Response:
        calls[request.method] += 1
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/probe", handler)
    runner, port = await start_web_app(app)
    yield calls, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_ceiling_is_judged_on_the_median_after_a_warm_up(counting: tuple[dict[str, int], str]) -> None:
    calls, url = counting
    result = await run_one(url, "- {id: p, kind: http, params: {url: /probe, max_latency_ms: 500, latency_samples: 5}}")
    assert result.status is Status.PASS and "(median)" in result.summary
    assert calls["GET"] == 6  # one warm-up, five samples
    ev = result.evidence
    assert len(ev["latency_samples_ms"]) == 5 and ev["warmup_ms"] > 0
    assert ev["latency_ms"] == sorted(ev["latency_samples_ms"])[2]


async def test_a_write_with_a_ceiling_is_sent_once(counting: tuple[dict[str, int], str]) -> None:
    calls, url = counting
    result = await run_one(url, "- {id: p, kind: http, params: {url: /probe, method: POST, max_latency_ms: 500}}")
    assert result.status is Status.PASS and calls["POST"] == 1 and "latency_samples_ms" not in result.evidence


def test_latency_judged_checks_go_to_the_quiet_lane_and_writes_run_alone() -> None:
    cl = parse_checklist("""name: t
phases:
  - id: p
    checks:
      - {id: a, kind: http, params: {url: /x, max_latency_ms: 100}}
      - {id: b, kind: http, params: {url: /x}}
      - {id: c, kind: http, params: {url: /x, method: DELETE}}
      - {id: d, kind: http, mutates: false, params: {url: /x, method: POST}}
      - {id: e, kind: api.v1, params: {urls: [/x, {url: /y, method: PUT}]}}
      - {id: f, kind: command, mutates: true, params: {command: "true"}}
""", "t.yml")
    assert [lane_of(c) for c in cl.all_checks()] == ["quiet", "normal", "exclusive", "normal", "exclusive",
                                                     "exclusive"]
