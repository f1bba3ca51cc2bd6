"""The demo target: every mode behaves as the checks expect, metrics follow traffic, and the server
starts and stops fast and clean, many times in one process."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from bot.demo import DemoServer, TargetState, serve_target


def test_healthy_endpoints(client: httpx.Client) -> None:
    assert client.get("/healthz/live").json() == {"status": "ok"}
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "environment": "production", "db": {"status": "ok"},
                            "redis": {"status": "ok"}}
    assert client.get("/healthz/startup").json()["status"] == "ok"
    metrics = client.get("/healthz/metrics").json()
    assert set(metrics) >= {"requests_total", "error_rate", "latency_p95_ms", "cache", "integrations",
                            "timeouts", "tasks", "db", "redis"}
    assert metrics["integrations"]["partner_center"]["success_rate"] > 0.9
    assert metrics["integrations"]["d365"]["success_rate"] > 0.9
    assert set(metrics["timeouts"]) == {"dns_rate", "whois_rate"}
    assert metrics["tasks"]["failure_rate"] < 0.05
    assert metrics["db"]["connection_errors"] == metrics["redis"]["connection_errors"] == 0


def test_leads_cold_query_is_slow_then_cached(client: httpx.Client) -> None:
    first = client.get("/api/v1/leads", params={"limit": 10})
    second = client.get("/api/v1/leads", params={"limit": 10})
    other = client.get("/api/v1/leads", params={"limit": 3})
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "MISS" and second.headers["x-cache"] == "HIT"
    assert other.headers["x-cache"] == "MISS"  # cached per query
    assert first.elapsed.total_seconds() >= 0.055  # a lower bound: a busy machine only makes it longer
    assert first.json() == second.json()
    assert first.json()["count"] == 10 and other.json()["count"] == 3
    assert client.get("/api/v1/leads", params={"limit": "x"}).status_code == 400
    assert client.get("/api/v1/leads", params={"limit": 0}).status_code == 400


def test_scan_needs_the_api_key(client: httpx.Client) -> None:
    body = {"domain": "example.com"}
    assert client.post("/api/v1/scan", json=body).status_code == 401
    assert client.post("/api/v1/scan", json=body, headers={"X-API-Key": "nope"}).status_code == 401
    ok = client.post("/api/v1/scan", json=body, headers={"X-API-Key": "demo-api-key"})
    assert ok.status_code == 202 and ok.json() == {"status": "queued", "domain": "example.com"}
    bad = client.post("/api/v1/scan", json={"domain": "not a domain"}, headers={"X-API-Key": "demo-api-key"})
    assert bad.status_code == 400
    assert client.get("/api/v1/scan", params={"domain": "example.com"}).json()["status"] == "scanned"
    assert client.get("/api/v1/scan").status_code == 400


def test_sales_summary_known_and_unknown(client: httpx.Client) -> None:
    known = client.get("/api/v1/leads/example.com/sales-summary")
    assert known.status_code == 200 and known.json()["domain"] == "example.com"
    assert client.get("/api/v1/leads/unknown.example/sales-summary").status_code == 404


def test_degraded_mode_fails_readiness_with_the_failing_part(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set_mode("degraded")
    ready = client.get("/healthz/ready")
    assert ready.status_code == 503
    assert ready.json()["redis"]["status"] == "error" and ready.json()["db"] == {"status": "ok"}
    assert client.get("/healthz/live").status_code == 200
    metrics = client.get("/healthz/metrics").json()
    assert metrics["redis"]["connection_errors"] >= 1 and metrics["redis"]["status"] == "error"

    demo.state.set(failing="db")
    assert client.get("/healthz/ready").json()["db"]["status"] == "error"


def test_down_mode_answers_500_except_liveness(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set_mode("down")
    assert client.get("/healthz/live").status_code == 200
    for path in ("/healthz/ready", "/healthz/startup", "/healthz/metrics", "/api/v1/leads"):
        assert client.get(path).status_code == 500, path
    assert client.get("/__control").status_code == 200  # control always works


def test_slow_mode_delays_every_answer(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set_mode("slow", delay_ms=150)
    started = time.perf_counter()
    assert client.get("/healthz/live").status_code == 200
    assert time.perf_counter() - started >= 0.15  # a lower bound: a busy machine only makes it longer
    demo.state.set_mode("slow", delay_ms=60_000)
    assert client.get("/__control", timeout=30).status_code == 200  # a delayed control would time out
    with pytest.raises(httpx.ReadTimeout):
        client.get("/healthz/live", timeout=0.2)


def test_ratelimited_mode_answers_429_on_the_api_only(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set_mode("ratelimited")
    limited = client.get("/api/v1/leads")
    assert limited.status_code == 429 and "retry-after" in limited.headers
    assert client.get("/healthz/ready").status_code == 200


def test_error_rate_mode_fails_an_exact_share(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set(mode="error_rate", error_fraction=0.25, rate_limit=0)
    statuses = [client.get("/api/v1/leads/example.com/sales-summary").status_code for _ in range(20)]
    assert statuses.count(500) == 5 and statuses.count(200) == 15
    metrics = client.get("/healthz/metrics").json()
    assert metrics["error_rate"] == 0.25 and metrics["errors_total"] == 5


def test_fixed_window_rate_limiter(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set(rate_limit=3, rate_window_s=0.5)
    statuses = [client.get("/api/v1/leads/example.com/sales-summary").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert client.get("/healthz/live").status_code == 200  # health is never limited
    time.sleep(0.5)
    assert client.get("/api/v1/leads/example.com/sales-summary").status_code == 200
    assert client.get("/healthz/metrics").json()["rate_limited_total"] == 2


@pytest.mark.parametrize("path", ["/leads?limit=4", "/scan?domain=example.com",
                                  "/leads/example.com/sales-summary"])
def test_legacy_routes_follow_the_setting(demo: DemoServer, client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404
    demo.state.set(legacy="supported")
    legacy, v1 = client.get(path), client.get("/api/v1" + path)
    assert legacy.status_code == v1.status_code == 200
    assert legacy.json() == v1.json()


def test_metrics_follow_traffic_and_overrides(demo: DemoServer, client: httpx.Client) -> None:
    assert client.get("/healthz/metrics").json()["cache"]["hit_rate"] == 0.9  # idle: a warm service
    for _ in range(4):
        client.get("/api/v1/leads", params={"limit": 5})
    client.get("/healthz/ready")  # probes are not API traffic
    metrics = client.get("/healthz/metrics").json()
    assert metrics["requests_total"] == 4
    assert metrics["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert metrics["latency_p95_ms"] >= 55  # the cold query
    assert metrics["error_rate"] == 0.0

    demo.state.override_metrics({"error_rate": 0.07, "integrations.d365.success_rate": 0.4})
    metrics = client.get("/healthz/metrics").json()
    assert metrics["error_rate"] == 0.07 and metrics["integrations"]["d365"]["success_rate"] == 0.4
    demo.state.override_metrics(None)
    assert client.get("/healthz/metrics").json()["error_rate"] == 0.0


def test_control_endpoint(demo: DemoServer, client: httpx.Client) -> None:
    shown = client.post("/__control", json={"mode": "slow", "delay_ms": 10, "legacy": "supported",
                                            "metrics": {"timeouts.dns_rate": 0.2}}).json()
    assert shown["settings"]["mode"] == "slow" and shown["settings"]["delay_ms"] == 10
    assert "api_key" not in shown["settings"]
    assert demo.state.mode == "slow" and demo.state.legacy == "supported"
    assert client.get("/healthz/metrics").json()["timeouts"]["dns_rate"] == 0.2

    bad = client.post("/__control", json={"mode": "sideways"})
    assert bad.status_code == 400 and "mode must be one of" in bad.json()["detail"]
    assert client.post("/__control", json={"colour": "red"}).status_code == 400
    assert client.post("/__control", content=b"nope").status_code == 400
    assert demo.state.mode == "slow"  # a rejected change changes nothing

    reset = client.post("/__control", json={"reset": True}).json()
    assert reset["settings"]["mode"] == "healthy" and reset["settings"]["metric_overrides"] == {}
    assert reset["traffic"]["requests_total"] == 0


def test_control_token_when_configured() -> None:
    with serve_target(control_token="s3cret") as demo, httpx.Client(base_url=demo.base_url) as client:
        assert client.post("/__control", json={"mode": "down"}).status_code == 403
        ok = client.post("/__control", json={"mode": "down"}, headers={"X-Control-Token": "s3cret"})
        assert ok.status_code == 200 and demo.state.mode == "down"


def test_state_set_validates() -> None:
    state = TargetState()
    with pytest.raises(ValueError, match="unknown setting"):
        state.set(speed=3)
    with pytest.raises(ValueError, match="error_fraction"):
        state.set(mode="error_rate", error_fraction=2)
    assert state.mode == "healthy"


def _demo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("golive-demo-target")]


def test_start_stop_is_fast_clean_and_repeatable() -> None:
    before = threading.active_count()
    for _ in range(5):
        server = serve_target()  # raises if it is not up within its start-up timeout
        assert httpx.get(server.url("/healthz/live")).status_code == 200
        server.stop()
        assert not server.running
        server.stop()  # twice is fine
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url("/healthz/live"))
    assert threading.active_count() == before and not _demo_threads()


def test_stop_does_not_wait_for_a_hung_answer() -> None:
    """The answer hangs for 10 minutes; the stop returns (a stop that waited for it would hit the test timeout)."""
    with serve_target(mode="slow", delay_ms=600_000) as server, pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/healthz/live"), timeout=0.2)
    assert not server.running
    assert not _demo_threads()


async def test_async_context_manager_and_shared_state() -> None:
    state = TargetState(legacy="supported")
    async with serve_target(state) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        assert server.state is state
        assert (await client.get("/leads")).status_code == 200
        state.set_mode("down")
        assert (await client.get("/healthz/ready")).status_code == 500
        results = await asyncio.gather(*(client.get("/healthz/live") for _ in range(10)))
        assert {r.status_code for r in results} == {200}
    assert not server.running and not _demo_threads()


def test_each_golive_run_gets_a_rate_limit_window_of_its_own(demo: DemoServer, client: httpx.Client) -> None:
    demo.state.set(rate_limit=2)
    url = "/api/v1/leads/example.com/sales-summary"
    first = [client.get(url, headers={"X-Golive-Run": "run-1"}).status_code for _ in range(3)]
    second = [client.get(url, headers={"X-Golive-Run": "run-2"}).status_code for _ in range(3)]
    untagged = [client.get(url).status_code for _ in range(3)]
    assert first == second == untagged == [200, 200, 429]


def test_a_failed_start_says_why_at_once_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_app(*args: object, **kwargs: object) -> None:
        raise OSError("no app today")

    monkeypatch.setattr("bot.demo.server.create_app", broken_app)
    with pytest.raises(RuntimeError, match=r"did not start on http://127\.0\.0\.1:\d+: no app today"):
        serve_target()  # the cause itself, not the 5 s start-up timeout's message
    assert not _demo_threads()
