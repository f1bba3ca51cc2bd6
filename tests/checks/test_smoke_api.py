"""`smoke.rate_limit`, `smoke.cache`, `api.v1` and `api.legacy` against the live demo target."""

from __future__ import annotations

import httpx
import pytest

from bot.demo import DemoServer
from checks.loader import ChecklistError
from checks.result import Status
from tests.checks.http_fixtures import checklist_for, closed_port_url, run_checks, run_one
from tests.checks.http_fixtures import target as target  # the fixture, re-exported for pytest

RATE_LIMIT = """
- id: smoke.rate_limit
  kind: smoke.rate_limit
  params: {url: "/api/v1/leads?limit=1", burst: 30, concurrency: 10}
"""


async def test_burst_meets_the_rate_limiter(target: DemoServer) -> None:
    result = await run_one(target.base_url, RATE_LIMIT)
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("rate limiting works: 429 after ")
    statuses = result.evidence["statuses"]
    assert statuses["429"] >= 1 and statuses["200"] == 20  # the demo allows 20 per window
    assert 10 <= result.evidence["first_limited_at"] <= 21  # completion order under concurrency
    assert int(result.evidence["retry_after"]) >= 1
    assert result.evidence["sent"] <= 30


async def test_burst_without_a_limiter_fails_with_the_histogram(target: DemoServer) -> None:
    target.state.set(rate_limit=0)
    result = await run_one(target.base_url, RATE_LIMIT)
    assert result.status is Status.FAIL
    assert result.summary.startswith("no 429 in 30 requests (200 x30): rate limiting is not active")
    assert result.evidence["statuses"] == {"200": 30}


async def test_burst_against_a_closed_port_is_unreachable() -> None:
    result = await run_one(closed_port_url(), RATE_LIMIT)
    assert result.status is Status.FAIL
    assert result.summary.startswith("unreachable: connection refused")


CACHE = """
- id: smoke.cache
  kind: smoke.cache
  params: {url: "/api/v1/leads?limit=10", attempts: 3}
"""


async def test_cache_check_passes_on_the_cache_header_of_a_repeat(target: DemoServer) -> None:
    result = await run_one(target.base_url, CACHE)
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("cache works: cache header x-cache: HIT (first ")
    ev = result.evidence
    assert ev["first_ms"] >= 60  # the demo's cold query
    assert len(ev["repeat_ms"]) == 3
    assert ev["fastest_repeat_ms"] == min(ev["repeat_ms"])  # figures only: the header decides (timing is no test)
    assert ev["cache_headers"] == {"first": {"x-cache": "MISS"}, "last": {"x-cache": "HIT"}}


async def test_a_warm_cache_passes_on_its_header_without_any_speedup(target: DemoServer) -> None:
    with httpx.Client() as client:
        client.get(target.url("/api/v1/leads?limit=10"))  # someone else warmed it
    warm = await run_one(target.base_url, CACHE)
    assert warm.status is Status.PASS, warm.summary
    assert warm.evidence["cache_headers"]["first"] == {"x-cache": "HIT"}
    busted = await run_one(target.base_url, CACHE.replace("attempts: 3", "attempts: 3, cache_bust: true"))
    assert busted.status is Status.PASS, busted.summary
    assert "_golive=" in busted.evidence["url"] and busted.evidence["cache_headers"]["first"] == {"x-cache": "MISS"}


async def test_cache_check_fails_on_a_bad_status(target: DemoServer) -> None:
    target.state.set_mode("down")
    result = await run_one(target.base_url, CACHE)
    assert result.status is Status.FAIL
    assert result.summary.startswith("HTTP 500 on request 1, expected 200")


V1 = """
- id: api.v1
  kind: api.v1
  params:
    headers: {X-API-Key: "${API_KEY}"}
    urls:
      - "/api/v1/leads?limit=10"
      - {url: /api/v1/scan, method: POST, json: {domain: example.com}, expect_status: [200, 202]}
      - {url: /api/v1/scan, method: POST, json: {domain: example.com}, expect_status: [401],
         headers: {X-API-Key: wrong}}
      - {url: /api/v1/leads/example.com/sales-summary, expect_status: [200, 404]}
      - {url: /api/v1/leads/unknown.example/sales-summary, expect_status: [200, 404]}
"""


async def test_v1_endpoints_answer_as_expected(target: DemoServer) -> None:
    result = await run_one(target.base_url, V1, env={"API_KEY": "demo-api-key"})
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("5 v1 endpoint(s) answer as expected")
    assert [row["status"] for row in result.evidence["endpoints"]] == [200, 202, 401, 200, 404]


async def test_v1_names_each_wrong_endpoint(target: DemoServer) -> None:
    result = await run_one(target.base_url, V1, env={"API_KEY": "stale-key"})
    assert result.status is Status.FAIL
    assert result.summary == "1 of 5 v1 endpoint(s) wrong: POST /api/v1/scan → 401 (expected 200/202)"
    wrong = [row for row in result.evidence["endpoints"] if not row["ok"]]
    assert len(wrong) == 1 and "invalid API key" in wrong[0]["body_excerpt"]


async def test_v1_unreachable_is_a_failure() -> None:
    result = await run_one(closed_port_url(), V1, env={"API_KEY": "k"})
    assert result.status is Status.FAIL
    assert result.summary.startswith("5 of 5 v1 endpoint(s) wrong: GET /api/v1/leads?limit=10 → unreachable")


def legacy_check(decision: str, legacy_url: str = "/leads?limit=5",
                 v1_url: str = "/api/v1/leads?limit=5") -> str:
    return f"""
        - id: api.legacy
          kind: api.legacy
          params: {{decision: "{decision}", legacy_url: "{legacy_url}", v1_url: "{v1_url}"}}
    """


@pytest.mark.parametrize("target_legacy", ["removed", "supported"])
@pytest.mark.parametrize("decision", ["removed", "supported"])
async def test_legacy_decision_both_ways(target: DemoServer, target_legacy: str, decision: str) -> None:
    target.state.set(legacy=target_legacy)
    result = await run_one(target.base_url, legacy_check(decision))
    if decision == target_legacy == "removed":
        assert result.status is Status.PASS, result.summary
        assert result.summary == "legacy /leads?limit=5 is removed as decided: 404"
    elif decision == target_legacy == "supported":
        assert result.status is Status.PASS, result.summary
        assert result.summary == ("legacy /leads?limit=5 is supported as decided: 200 with the same body as "
                                  "/api/v1/leads?limit=5")
    elif decision == "removed":
        assert result.status is Status.FAIL
        assert result.summary == ("legacy /leads?limit=5 answers 200, but the decision is 'removed' "
                                  "(expected 404/410)")
    else:
        assert result.status is Status.FAIL
        assert result.summary == ("legacy /leads?limit=5 answers 404, but the decision is 'supported' "
                                  "(expected 200)")


async def test_supported_legacy_with_a_different_body_names_the_difference(target: DemoServer) -> None:
    target.state.set(legacy="supported")
    result = await run_one(target.base_url, legacy_check("supported", v1_url="/api/v1/leads?limit=6"))
    assert result.status is Status.FAIL
    assert result.summary.startswith(
        "legacy /leads?limit=5 differs from /api/v1/leads?limit=6 at items.5: missing vs {")
    assert result.evidence["difference"]["path"] == "items.5"


async def test_legacy_decision_from_the_target_settings(target: DemoServer) -> None:
    check = """
        - id: api.legacy
          kind: api.legacy
          params: {decision: "${LEGACY_ENDPOINTS}", legacy_url: "/scan?domain=example.com",
                   v1_url: "/api/v1/scan?domain=example.com"}
    """
    removed = await run_one(target.base_url, check, env={"LEGACY_ENDPOINTS": "removed"})
    assert removed.status is Status.PASS, removed.summary
    target.state.set(legacy="supported")
    supported = await run_one(target.base_url, check, env={"LEGACY_ENDPOINTS": "supported"})
    assert supported.status is Status.PASS, supported.summary
    typo = await run_one(target.base_url, check, env={"LEGACY_ENDPOINTS": "kept"})
    assert typo.status is Status.ERROR and typo.summary.startswith("bad params.decision")


def test_kind_params_are_validated_on_load() -> None:
    with pytest.raises(ChecklistError, match="needs v1_url"):
        checklist_for("http://x", """
            - id: a
              kind: api.legacy
              params: {decision: supported, legacy_url: /leads}
        """)
    with pytest.raises(ChecklistError, match=r"params\.urls"):
        checklist_for("http://x", """
            - id: a
              kind: api.v1
              params: {urls: []}
        """)
    with pytest.raises(ChecklistError, match=r"params\.burst"):
        checklist_for("http://x", """
            - id: a
              kind: smoke.rate_limit
              params: {url: /a, burst: 0}
        """)


async def test_a_go_live_smoke_phase_runs_together(target: DemoServer) -> None:
    """The Day 3 smoke items as one phase: the burst waits for the others so it cannot starve them."""
    results = await run_checks(target.base_url, """
        - id: smoke.leads
          kind: http
          params: {url: "/api/v1/leads?limit=10"}
        - id: smoke.scan
          kind: http
          params: {url: /api/v1/scan, method: POST, headers: {X-API-Key: "${API_KEY}"},
                   json: {domain: example.com}, expect_status: [200, 202]}
        - id: smoke.sales_summary
          kind: http
          params: {url: /api/v1/leads/example.com/sales-summary, expect_status: [200, 404]}
        - id: smoke.cache
          kind: smoke.cache
          params: {url: "/api/v1/leads?limit=20"}
        - id: smoke.rate_limit
          kind: smoke.rate_limit
          needs: [smoke.leads, smoke.scan, smoke.sales_summary, smoke.cache]
          params: {url: "/api/v1/leads?limit=1"}
    """, env={"API_KEY": "demo-api-key"})
    assert [r.status for r in results] == [Status.PASS] * 5, [r.summary for r in results]
    *others, burst = results
    assert burst.check_id == "smoke.rate_limit"
    assert burst.started_at >= max(r.finished_at for r in others), "the burst ran while the others still measured"
