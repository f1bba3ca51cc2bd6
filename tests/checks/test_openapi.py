"""`openapi` reads the service's own API description: a probed endpoint that is not in it fails naming the
nearest real route, and the sweep finds a GET route that answers 400 to every call (a route-order bug).

The service is a local aiohttp app serving a FastAPI-shaped openapi.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.result import Status
from tests.checks.http_fixtures import run_checks

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Hunter", "version": "1.0"},
    "paths": {
        "/api/v1/leads": {"get": {"operationId": "list_leads"}},
        "/api/v1/leads/{domain}/sales-summary": {"get": {"operationId": "sales_summary",
                                                         "parameters": [{"name": "domain", "in": "path"}]}},
        "/api/v1/leads/stats": {"get": {"operationId": "lead_stats"}},
        "/api/v1/items/search": {"post": {"operationId": "search_items"}},
        "/api/v1/admin/users": {"get": {"operationId": "admin_users"}},
        "/api/v1/scan": {"post": {"operationId": "scan"}},
    },
}


@pytest.fixture
async def service() -> AsyncIterator[tuple[list[str], str]]:
    calls: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        calls.append(f"{request.method} {request.path}")
        return web.json_response({"items": []})

    async def stats(request: web.Request) -> web.Response:
        calls.append(f"{request.method} {request.path}")
        # /leads/{domain} was registered first: "stats" is taken for a domain, always a 400
        return web.json_response({"detail": "invalid domain: stats"}, status=400)

    async def admin(request: web.Request) -> web.Response:
        calls.append(f"{request.method} {request.path}")
        return web.json_response({"detail": "Not authenticated"}, status=401)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    app = web.Application()
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/api/v1/leads", ok)
    app.router.add_get("/api/v1/leads/stats", stats)
    app.router.add_get("/api/v1/leads/{domain}/sales-summary", ok)
    app.router.add_post("/api/v1/items/search", ok)
    app.router.add_post("/api/v1/scan", ok)
    app.router.add_get("/api/v1/admin/users", admin)
    app.router.add_get("/healthz/live", ok)
    runner, port = await start_web_app(app)
    yield calls, f"http://127.0.0.1:{port}"
    await runner.cleanup()


CHECKS = """
- {id: health.live, kind: http, params: {url: /healthz/live}}
- {id: smoke.leads, kind: http, params: {url: "/api/v1/leads?limit=10"}}
- {id: smoke.items, kind: http, params: {url: /api/v1/items}}
- {id: api.v1, kind: api.v1, params: {urls: [/api/v1/leads/example.com/sales-summary,
    {url: /api/v1/scan, method: POST, expect_status: [200]}]}}
- id: api.openapi
  kind: openapi
  criticality: low
  params: {ignore: ["/healthz/*"], sweep: SWEEP}
"""


async def test_a_probed_endpoint_missing_from_the_api_fails_naming_the_nearest_route(
        service: tuple[list[str], str]) -> None:
    _, url = service
    results = {r.check_id: r for r in await run_checks(url, CHECKS.replace("SWEEP", "false"))}
    result = results["api.openapi"]
    assert result.status is Status.FAIL
    assert result.summary == "GET /api/v1/items is not in the API (POST /api/v1/items/search is) [smoke.items]"
    probes = {(p["method"], p["path"]): p["in_api"] for p in result.evidence["probes"]}
    assert probes == {("GET", "/api/v1/leads"): True, ("GET", "/api/v1/items"): False,
                      ("GET", "/api/v1/leads/example.com/sales-summary"): True, ("POST", "/api/v1/scan"): True}


async def test_the_sweep_reports_the_get_route_that_always_answers_400(service: tuple[list[str], str]) -> None:
    calls, url = service
    checks = CHECKS.replace("SWEEP", "true").replace("- {id: smoke.items, kind: http, params: {url: /api/v1/items}}\n",
                                                     "")
    results = {r.check_id: r for r in await run_checks(url, checks)}
    result = results["api.openapi"]
    assert result.status is Status.FAIL
    assert result.summary == "GET /api/v1/leads/stats answers 400: invalid domain: stats"
    swept = {r["path"]: r["status"] for r in result.evidence["sweep"]}
    assert swept == {"/api/v1/admin/users": 401, "/api/v1/leads": 200, "/api/v1/leads/stats": 400}
    assert not [c for c in calls if c.startswith("POST") and "items" in c]  # the sweep only sends GETs


async def test_a_wrong_method_names_the_same_route_and_a_missing_document_fails(
        service: tuple[list[str], str]) -> None:
    _, url = service
    wrong = await run_checks(url, """
- {id: api.openapi, kind: openapi, params: {endpoints: [{method: GET, url: /api/v1/scan}, /api/v1/leads]}}
""")
    assert wrong[0].status is Status.FAIL
    assert wrong[0].summary == "GET /api/v1/scan is not in the API (POST /api/v1/scan is) [endpoints]"
    nodoc = await run_checks(url, "- {id: api.openapi, kind: openapi, params: {url: /docs.json}}")
    assert nodoc[0].status is Status.FAIL and nodoc[0].summary.startswith("no OpenAPI document: HTTP 404")


async def test_probes_that_expect_an_error_and_ignored_methods_are_not_looked_up(
        service: tuple[list[str], str]) -> None:
    _, url = service
    results = await run_checks(url, """
- {id: gone, kind: http, params: {url: /api/v1/old, expect_status: [404, 410]}}
- {id: v1, kind: api.v1, params: {urls: [{url: /api/v1/scan, expect_status: [405]}, {url: /api/v1/other}]}}
- {id: api.openapi, kind: openapi, params: {ignore: ["GET /api/v1/other"]}}
""")
    openapi = next(r for r in results if r.check_id == "api.openapi")
    assert openapi.status is Status.WARN, openapi.summary  # nothing was looked up: no evidence, no pass
    assert openapi.evidence["probes"] == [] and "nothing looked up" in openapi.summary
