"""The `http` kind against the live demo target, plus the JSON path helpers it shares with the watch.

Real HTTP over loopback: the point is that what a person reads (summary, evidence) is right for a
healthy service, a degraded one, a wrong value, a slow one, a closed port and a hung endpoint.
"""

from __future__ import annotations

import httpx
import pytest

from bot.demo import DemoServer
from checks.jsonpath import MISSING, Expectation, compare, evaluate, first_difference, get_path
from checks.kinds.http import transport_error
from checks.loader import ChecklistError
from checks.result import Status
from tests.checks.http_fixtures import checklist_for, closed_port_url, run_checks, run_one
from tests.checks.http_fixtures import target as target  # the fixture, re-exported for pytest

HEALTH = """
- id: health.live
  kind: http
  criticality: critical
  params: {url: /healthz/live, expect_json: {status: ok}}
- id: health.ready
  kind: http
  criticality: critical
  params:
    url: /healthz/ready
    status_messages: {503: not ready}
    expect_json:
      - {path: status, value: ok}
      - {path: db.status, op: eq, value: ok}
      - {path: redis.status, op: eq, value: ok}
      - {path: environment, value: production}
- id: health.startup
  kind: http
  params: {url: /healthz/startup}
- id: health.metrics
  kind: http
  params: {url: /healthz/metrics, json_valid: true}
"""


async def test_healthy_target_passes_every_health_check(target: DemoServer) -> None:
    results = await run_checks(target.base_url, HEALTH)
    assert [r.status for r in results] == [Status.PASS] * 4, [r.summary for r in results]
    ready = results[1]
    assert ready.summary.startswith("HTTP 200 in ")
    assert "4 JSON assertions hold" in ready.summary
    assert ready.evidence["status"] == 200
    assert ready.evidence["latency_ms"] >= 0
    assert "body_excerpt" not in ready.evidence
    assert "valid JSON" in results[3].summary


async def test_degraded_readiness_fails_as_not_ready_naming_the_broken_part(target: DemoServer) -> None:
    target.state.set_mode("degraded")
    results = await run_checks(target.base_url, HEALTH)
    by_id = {r.check_id: r for r in results}
    ready = by_id["health.ready"]
    assert ready.status is Status.FAIL
    assert ready.summary.startswith("not ready: HTTP 503, expected 200")
    assert "redis.status is 'error', expected == 'ok'" in ready.summary
    assert ready.evidence["status"] == 503
    assert '"redis"' in ready.evidence["body_excerpt"]
    assert by_id["health.live"].status is Status.PASS


async def test_wrong_json_value_names_path_actual_and_expected(target: DemoServer) -> None:
    target.state.set(environment="staging")
    result = await run_one(target.base_url, """
        - id: health.ready
          kind: http
          params: {url: /healthz/ready, expect_json: {environment: production, db.status: ok}}
    """)
    assert result.status is Status.FAIL
    assert result.summary == "environment is 'staging', expected == 'production' — GET /healthz/ready"
    assert result.evidence["path"] == "environment"
    assert result.evidence["actual"] == "staging"
    assert result.evidence["expected"] == "production"
    assert len(result.evidence["body_excerpt"]) <= 500


async def test_list_indexes_and_every_operator_on_a_real_body(target: DemoServer) -> None:
    result = await run_one(target.base_url, """
        - id: smoke.leads
          kind: http
          params:
            url: /api/v1/leads?limit=3
            expect_json:
              - {path: items.0.domain, value: example.com}
              - {path: "items[1].company", op: matches, value: "^Cont"}
              - {path: items.2.score, op: lt, value: 100}
              - {path: count, op: ge, value: "${MIN_LEADS}"}
              - {path: items.0.segment, op: in, value: [enterprise, smb]}
              - {path: items.3, op: exists, value: false}
              - {path: limit, op: ne, value: 10}
    """, env={"MIN_LEADS": "3"})
    assert result.status is Status.PASS, result.summary
    assert "7 JSON assertions hold" in result.summary

    missing = await run_one(target.base_url, """
        - id: smoke.leads
          kind: http
          params:
            url: /api/v1/leads?limit=3
            expect_json: [{path: items.5.domain, value: x}, {path: total, value: 1}]
    """)
    assert missing.status is Status.FAIL
    assert missing.summary.startswith("items.5.domain is missing, expected == 'x' (+1 more)")
    assert [m["path"] for m in missing.evidence["mismatches"]] == ["items.5.domain", "total"]


async def test_latency_ceiling_exceeded_in_slow_mode(target: DemoServer) -> None:
    check = """
        - id: health.live
          kind: http
          params: {url: /healthz/live, max_latency_ms: 150}
    """
    fast = await run_one(target.base_url, check)
    assert fast.status is Status.PASS and "within 150 ms" in fast.summary
    target.state.set_mode("slow", delay_ms=300)
    slow = await run_one(target.base_url, check)
    assert slow.status is Status.FAIL
    assert slow.summary.startswith("too slow: ")
    assert "> 150 ms ceiling" in slow.summary
    assert slow.evidence["latency_ms"] >= 300
    assert slow.evidence["max_latency_ms"] == 150


async def test_closed_port_fails_fast_as_unreachable() -> None:
    """Fast: the refusal itself is the answer (no waiting for the 5 s timeout, which would read "timed out")."""
    result = await run_one(closed_port_url(), """
        - id: health.live
          kind: http
          timeout: 5
          params: {url: /healthz/live}
    """)
    assert result.status is Status.FAIL  # a clear "no", not a broken check
    assert result.summary.startswith("unreachable: connection refused — GET http://127.0.0.1:")
    assert result.evidence["error"] == "unreachable: connection refused"


async def test_hung_endpoint_times_out_within_the_check_timeout(target: DemoServer) -> None:
    """The target would answer after 5 s: "timed out" can only be the check's own 1 s timeout firing."""
    target.state.set_mode("slow", delay_ms=5000)
    result = await run_one(target.base_url, """
        - id: health.live
          kind: http
          timeout: 1
          params: {url: /healthz/live}
    """)
    assert result.status is Status.FAIL
    assert "timed out" in result.summary


async def test_headers_body_and_interpolated_secrets(target: DemoServer) -> None:
    checks = """
        - id: smoke.scan
          kind: http
          params:
            url: /api/v1/scan
            method: post
            headers: {X-API-Key: "${API_KEY}"}
            json: {domain: example.com}
            expect_status: [200, 202]
            expect_json: {status: queued}
        - id: smoke.scan_nokey
          kind: http
          params: {url: /api/v1/scan, method: POST, body: '{"domain": "example.com"}', expect_status: 401}
    """
    ok, nokey = await run_checks(target.base_url, checks, env={"API_KEY": "demo-api-key"})
    assert ok.status is Status.PASS, ok.summary
    assert ok.summary.startswith("HTTP 202")
    assert nokey.status is Status.PASS, nokey.summary

    wrong_key = await run_checks(target.base_url, checks, env={"API_KEY": "not-the-key"})
    assert wrong_key[0].status is Status.FAIL
    assert "HTTP 401, expected 200/202" in wrong_key[0].summary

    unset = await run_checks(target.base_url, checks, env={})
    assert unset[0].status is Status.FAIL and unset[0].summary.startswith("not configured: variable API_KEY")


async def test_target_headers_go_to_the_target(target: DemoServer) -> None:
    result = await run_one(target.base_url, """
        - id: smoke.scan
          kind: http
          params: {url: /api/v1/scan, method: POST, json: {domain: example.com}, expect_status: 202}
    """, target_yaml="headers: {X-API-Key: demo-api-key}")
    assert result.status is Status.PASS, result.summary


async def test_failure_excerpt_is_masked_and_short(target: DemoServer) -> None:
    target.state.override_metrics({"error_rate": 0.5, "service": "postgresql://app:hunter2secret@db:5432/app",
                                   "note": "padding " * 200})
    result = await run_one(target.base_url, """
        - id: health.metrics
          kind: http
          params: {url: /healthz/metrics, expect_json: [{path: error_rate, op: lt, value: 0.01}]}
    """)
    assert result.status is Status.FAIL
    assert result.summary.startswith("error_rate is 0.5, expected < 0.01")
    excerpt = result.evidence["body_excerpt"]
    assert len(excerpt) <= 500
    assert "hunter2secret" not in excerpt and "***" in excerpt


async def test_non_json_body_fails_json_valid(target: DemoServer) -> None:
    # the demo 404 for an unknown path is aiohttp's plain-text "404: Not Found"
    result = await run_one(target.base_url, """
        - id: x
          kind: http
          params: {url: /nope, expect_status: 404, json_valid: true}
    """)
    assert result.status is Status.FAIL
    assert result.summary.startswith("answer is not valid JSON (text/plain")


async def test_unexpected_status_without_message_and_status_shorthand(target: DemoServer) -> None:
    target.state.set_mode("down")
    result = await run_one(target.base_url, """
        - id: health.startup
          kind: http
          params: {url: /healthz/startup, expect_status: 200}
    """)
    assert result.status is Status.FAIL
    assert result.summary == "HTTP 500, expected 200: service unavailable (demo: down) — GET /healthz/startup"
    assert result.evidence["expected_status"] == [200]


def test_bad_params_are_rejected_when_the_checklist_loads() -> None:
    with pytest.raises(ChecklistError, match=r"params\.expect_jsn"):
        checklist_for("http://x", """
            - id: a
              kind: http
              params: {url: /a, expect_jsn: {a: 1}}
        """)
    with pytest.raises(ChecklistError, match=r"params\.expect_json\[0\]\.op"):
        checklist_for("http://x", """
            - id: a
              kind: http
              params: {url: /a, expect_json: [{path: a, op: equals, value: 1}]}
        """)
    with pytest.raises(ChecklistError, match="method must be one of"):
        checklist_for("http://x", """
            - id: a
              kind: http
              params: {url: /a, method: FETCH}
        """)
    with pytest.raises(ChecklistError, match="either json or body"):
        checklist_for("http://x", """
            - id: a
              kind: http
              params: {url: /a, json: {a: 1}, body: x}
        """)


async def test_unusable_url_is_an_error_not_a_failure() -> None:
    result = await run_one("http://127.0.0.1:1", """
        - id: a
          kind: http
          params: {url: "ftp://example.com/file"}
    """)
    assert result.status is Status.ERROR
    assert "bad url" in result.summary


# -- transport errors described for people ---------------------------------------------------------


@pytest.mark.parametrize(("exc", "expected", "timed_out"), [
    (httpx.ConnectError("[Errno 111] Connection refused"), "unreachable: connection refused", False),
    (httpx.ConnectError("[Errno -2] Name or service not known"), "unreachable: DNS lookup failed", False),
    (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
                        "(_ssl.c:1006)"),
     "unreachable: TLS handshake failed (certificate verify failed: self-signed certificate)", False),
    (httpx.ConnectTimeout("timed out"), "unreachable: connect timed out after 2s", True),
    (httpx.ReadTimeout("timed out"), "timed out after 2s (no answer)", True),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."),
     "no valid HTTP answer: Server disconnected without sending a response.", False),
])
def test_transport_errors_read_well(exc: httpx.HTTPError, expected: str, timed_out: bool) -> None:
    assert transport_error(exc, 2.0) == (expected, timed_out)


# -- JSON paths and comparisons (shared with the rollout watch) ------------------------------------


DOC = {"status": "ok", "db": {"status": "ok", "latency_ms": 3},
       "checks": [{"status": "ok"}, {"status": "down"}], "rate": 0.02, "flag": True, "none": None}


def test_get_path() -> None:
    assert get_path(DOC, "db.status") == "ok"
    assert get_path(DOC, "checks.1.status") == "down"
    assert get_path(DOC, "checks[1].status") == "down"
    assert get_path(DOC, "checks.-1.status") == "down"
    assert get_path(DOC, "none") is None
    assert get_path(DOC, "") is DOC
    for path in ("db.nope", "checks.5", "checks.x", "status.inner", "rate.0"):
        assert get_path(DOC, path) is MISSING
    assert get_path(DOC, "db.nope", default=0) == 0


@pytest.mark.parametrize(("actual", "op", "expected", "result"), [
    ("ok", "eq", "ok", True),
    (200, "eq", "200", True),  # values interpolated from ${VAR} arrive as strings
    (True, "eq", "true", True),
    (True, "eq", 1, False),
    (None, "eq", None, True),
    ("ok", "ne", "down", True),
    (0.02, "lt", 0.01, False),
    (0.005, "lt", "0.01", True),
    (5, "le", 5, True),
    (3, "gt", 2, True),
    (3, "ge", 4, False),
    ("abc", "gt", 1, False),
    ("ok", "in", ["ok", "degraded"], True),
    ("down", "in", ["ok"], False),
    ("down", "not_in", ["ok"], True),
    (["a", "b"], "contains", "b", True),
    ("hello world", "contains", "lo w", True),
    ("v1.2.3", "matches", r"^v\d+\.\d+", True),
    (MISSING, "exists", None, False),
    (MISSING, "exists", False, True),
    (None, "exists", True, True),
    (MISSING, "eq", None, False),
    (MISSING, "ne", "x", False),
])
def test_compare(actual: object, op: str, expected: object, result: bool) -> None:
    assert compare(actual, op, expected) is result


def test_compare_rejects_an_unknown_operator() -> None:
    with pytest.raises(ValueError, match="unknown comparison"):
        compare(1, "approx", 1)


def test_evaluate_reports_every_mismatch_in_order() -> None:
    found = evaluate(DOC, [Expectation(path="db.status", value="ok"),
                           Expectation(path="checks.1.status", value="ok"),
                           Expectation(path="rate", op="lt", value=0.01),
                           Expectation(path="gone", op="exists")])
    assert [m.text for m in found] == [
        "checks.1.status is 'down', expected == 'ok'",
        "rate is 0.02, expected < 0.01",
        "gone is missing, expected present",
    ]
    assert found[2].evidence() == {"path": "gone", "op": "exists", "expected": None, "actual": None,
                                   "missing": True}


def test_first_difference() -> None:
    assert first_difference(DOC, dict(DOC)) is None
    assert first_difference({"a": [1, 2]}, {"a": [1, 3]}) == ("a.1", 2, 3)
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == ("b", MISSING, 2)
    assert first_difference({"a": 1}, {"a": 1.0}) is None
    assert first_difference({"a": True}, {"a": 1}) == ("a", True, 1)
    assert first_difference([1], {"a": 1}) == ("(document)", [1], {"a": 1})
