"""The demo target serves what a service instrumented with prometheus_client serves on /metrics: a request
counter by method and status and a histogram of durations, from a registry of its own, moved by the
same traffic and fault switches as its JSON metrics document. Read with prometheus_client's parser."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.demo import DemoServer, serve_target


def scrape(client: httpx.Client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_requests_are_counted_by_status_and_timed_in_the_histogram(demo: DemoServer, client: httpx.Client) -> None:
    for _ in range(3):
        client.get("/api/v1/leads?limit=5")
    client.get("/api/v1/leads?limit=0")  # 400
    demo.set(mode="error_rate", error_fraction=0.5)
    for _ in range(4):
        client.get("/api/v1/leads?limit=5")
    client.get("/healthz/ready")  # probes and scrapes are not traffic
    metrics = scrape(client)
    assert metrics["http_requests_total"] == {
        (("method", "GET"), ("status", "200")): 3 + 2, (("method", "GET"), ("status", "400")): 1,
        (("method", "GET"), ("status", "500")): 2}
    buckets = metrics["http_request_duration_seconds_bucket"]
    assert buckets[(("le", "+Inf"),)] == 8 == metrics["http_request_duration_seconds_count"][()]
    ordered = sorted(((float(dict(k)["le"]), v) for k, v in buckets.items()))
    assert [v for _, v in ordered] == sorted(v for _, v in ordered), "cumulative buckets"


def test_slow_mode_moves_the_observations_up_the_buckets(demo: DemoServer, client: httpx.Client) -> None:
    demo.set(mode="slow", delay_ms=300)
    client.get("/api/v1/scan?domain=example.com")
    buckets = scrape(client)["http_request_duration_seconds_bucket"]
    assert buckets[(("le", "0.25"),)] == 0 and buckets[(("le", "+Inf"),)] == 1


def test_each_target_counts_in_a_registry_of_its_own_and_a_reset_starts_from_zero(
        demo: DemoServer, client: httpx.Client) -> None:
    client.get("/api/v1/scan?domain=example.com")
    with serve_target() as other, httpx.Client(base_url=other.base_url, timeout=5) as second:
        assert scrape(second).get("http_requests_total", {}) == {}
    assert sum(scrape(client)["http_requests_total"].values()) == 1
    assert REGISTRY.get_sample_value("http_requests_total", {"method": "GET", "status": "200"}) is None  # not global
    demo.state.reset()
    assert scrape(client).get("http_requests_total", {}) == {}
