"""The openapi sweep is bounded (issue 18, item 3): each route has `route_timeout`, the whole sweep a budget
inside the check's own timeout, and a swept body is read only up to `max_body_bytes`. A slow route is
reported as one finding; it never hides the others (before, the check's timeout replaced them all)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.hostile_target import HostileTarget
from checks.kinds.openapi import sweep_budget
from checks.result import Status
from tests.checks.http_fixtures import run_one
from tests.serving import IN_FLIGHT, hostile_target


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[str, HostileTarget]]:
    async with hostile_target(routes=("/ok", "/broken", "/hang", "/zeros")) as served:
        yield served


async def test_a_hung_route_is_reported_beside_the_broken_one(hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    result = await run_one(base_url, """
        - id: api.sweep
          kind: openapi
          timeout: 20
          params: {endpoints: [], sweep: true, route_timeout: 0.3}
    """)
    assert result.status is Status.FAIL, result.summary
    assert "GET /broken answers 500: database unavailable" in result.summary
    assert "GET /hang → no answer within 0.3s (route_timeout)" in result.summary
    swept = {row["path"]: row for row in result.evidence["sweep"]}
    assert swept["/ok"]["status"] == 200 and "problem" not in swept["/ok"]
    assert swept["/zeros"]["status"] == 200 and "problem" not in swept["/zeros"]  # 1 GiB: only its start is read
    await target.all_streams_done()
    assert target.streams[0].sent < IN_FLIGHT


async def test_routes_the_budget_did_not_reach_are_listed_and_hide_nothing(
        hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    # default route_timeout (5 s) is longer than what a 3 s check leaves the sweep: the budget ends first
    result = await run_one(base_url, """
        - id: api.sweep
          kind: openapi
          timeout: 3
          params: {endpoints: [], sweep: true, concurrency: 1}
    """)
    assert result.status is Status.FAIL, result.summary
    assert "GET /broken answers 500" in result.summary
    assert "not swept within the sweep budget: /hang" in result.summary
    assert "timed out" not in result.summary
    assert "/hang" in result.evidence["not_swept"]


async def test_a_sweep_that_only_ran_out_of_budget_warns(hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    result = await run_one(base_url, """
        - id: api.sweep
          kind: openapi
          timeout: 20
          params: {endpoints: [], sweep: true, sweep_exclude: [/broken], sweep_budget: 0.5, route_timeout: 10}
    """)
    assert result.status is Status.WARN, result.summary
    assert "none broken" in result.summary and "not swept within the sweep budget: /hang" in result.summary


def test_the_sweep_budget_always_ends_before_the_check_times_out() -> None:
    assert sweep_budget(30, None) == 24
    assert sweep_budget(30, 100) == 24
    assert sweep_budget(30, 5) == 5
    assert sweep_budget(2, None) < 2
