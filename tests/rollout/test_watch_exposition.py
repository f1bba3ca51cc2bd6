"""The watch over a target's own /metrics, with no Prometheus server: the demo target serves real
prometheus_client counters and histograms, the watch computes the 5xx ratio, p95 and the request rate
between two samples, a breach driven through the demo's fault switches raises the alert, and the alert's
chart draws the computed series. The clock is injected: every sample is 30 s after the last one, without
waiting 30 s."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bot.announcements.events import AlertEvent, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime, Watch
from bot.rollout.metrics import Collector
from bot.rollout.models import WatchConfig
from bot.rollout.notify import render_event
from bot.rollout.sources import watch_source_findings
from bot.slack.views.rollout import alert_message
from bot.store import Store
from bot.teams.event_cards import alert_card
from checks.spec import Checklist
from tests.rollout.test_watch_chart import slack_text
from tests.serving import IN_FLIGHT, hostile_target
from tests.teams.support import assert_valid_card

INTERVAL = 30.0
EXPOSITION = {
    "queries": {"error_rate": "error_ratio(http_requests_total)",
                "latency_p95_ms": "p95(http_request_duration_seconds) * 1000"},
}
REQUEST_RATE_RULE = {"id": "request_rate", "level": "P2", "metric": "rate(http_requests_total)", "op": "lt",
                     "threshold": 0.1, "label": "request rate", "unit": ""}


class Clock:
    """The watch's clock: each sample advances it by one interval."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Probe:
    """A watch on the demo target, sampled by hand, one interval of the injected clock per sample."""

    def __init__(self, runtime: RolloutRuntime, watch: Watch, clock: Clock, target: DemoServer) -> None:
        self.runtime, self.watch, self.clock, self.target = runtime, watch, clock, target

    async def traffic(self, requests: int) -> None:
        async with httpx.AsyncClient(base_url=self.target.base_url, timeout=10) as client:
            answers = await asyncio.gather(*(client.get("/api/v1/leads?limit=5") for _ in range(requests)))
        assert len(answers) == requests

    async def sample(self, requests: int = 0) -> list[AlertEvent]:
        if requests:
            await self.traffic(requests)
        self.clock.now += INTERVAL
        return await self.watch.tick()

    def reading(self, rule: str) -> Any:
        return next(r for r in self.watch.last_readings if r.rule == rule)


@pytest.fixture
async def probe(write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks,
                target: DemoServer) -> AsyncIterator[Probe]:
    checklist = write_checklist(target.base_url, criteria={"p95_latency_ms_alert": 200},
                                watch={"interval_seconds": INTERVAL, "exposition": EXPOSITION,
                                       "rules": [REQUEST_RATE_RULE]})
    notifier = RecordingNotifier()
    runtime = await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=locks.prefix, env={})
    await asyncio.to_thread(runtime.service.records.set_phase, "phase-1")
    clock = Clock()
    watch = Watch(checklist, store, notifier, config=runtime.config, target_url=runtime.target_url,
                  incidents=runtime.incidents(), service=runtime.service, clock=clock, env=runtime.env)
    yield Probe(runtime, watch, clock, target)
    await watch.stop()
    await runtime.close()


async def test_5xx_from_the_demo_counters_raise_a_p0_whose_chart_draws_the_computed_ratio(probe: Probe) -> None:
    assert await probe.sample() == []
    first = probe.reading("error_rate")
    assert first.state == "inconclusive"
    assert re.fullmatch(r"5xx error rate: error_ratio\(http_requests_total\): needs two samples; this is the "
                        r"first read of http://127\.0\.0\.1:\d+/metrics", first.message)
    assert probe.watch.blind == []  # computable from /metrics, only not yet: not a blind rule

    assert await probe.sample(requests=12) == []
    assert probe.reading("error_rate").value == 0.0
    assert probe.reading("request_rate").value == pytest.approx(12 / INTERVAL)

    probe.target.set(mode="error_rate", error_fraction=0.5)  # every second API answer is a 500
    assert await probe.sample(requests=12) == []  # one breaching sample is not an alert
    assert probe.reading("error_rate").value == pytest.approx(0.5)
    (opened,) = await probe.sample(requests=12)
    assert (opened.level, opened.state, opened.rule) == ("P0", "opened", "error_rate")
    assert opened.message.startswith("5xx error rate 50.0% > 1.0%")

    lines = {line.split("  ")[0].strip(): line for line in opened.chart.splitlines()[1:]}
    assert lines["5xx error rate %"].endswith("50  (alert > 1)  ▲ 2 of 4 over")
    assert lines["5xx error rate %"].split()[4] == "·▁██", "no value at the first sample, 0 %, then 50 % twice"
    assert re.fullmatch(r"request rate\s+·███  0\.4  \(alert < 0\.1\)", lines["request rate"])
    assert "p95 latency ms" in lines
    # every transport carries the computed line: Slack blocks, an Adaptive Card, the terminal
    assert lines["request rate"] in slack_text(alert_message(opened))
    card = alert_card(opened)
    assert_valid_card(card)
    assert any(b.get("text") == lines["request rate"] for b in card["body"] if isinstance(b, dict))
    assert lines["request rate"] in render_event(opened)

    # the demo restarts: its counters start again from zero. The fall is a reset, not negative traffic
    probe.target.set(mode="healthy")
    probe.target.state.reset()
    assert await probe.sample(requests=6) == []
    assert probe.reading("error_rate").value == 0.0
    assert probe.reading("request_rate").value == pytest.approx(6 / INTERVAL)
    (resolved,) = await probe.sample(requests=6)
    assert (resolved.level, resolved.state, resolved.incident_id) == ("P0", "resolved", opened.incident_id)


async def test_slow_answers_in_the_demo_histogram_raise_a_p1_on_the_computed_p95(probe: Probe) -> None:
    await probe.sample()
    assert await probe.sample(requests=10) == []
    assert probe.reading("latency_p95").state == "ok"
    probe.target.set(mode="slow", delay_ms=300)  # every answer takes 0.3 s: the (0.25, 0.5] bucket
    await probe.sample(requests=10)
    (opened,) = [e for e in await probe.sample(requests=10) if e.level == "P1"]  # (a P2 too, if p95 > 500 ms)
    assert (opened.state, opened.rule) == ("opened", "latency_p95")
    # all 10 in (0.25, 0.5]: p95 = 0.25 + 0.25 * 9.5 / 10 s, unless a busy machine pushed one further up
    assert re.fullmatch(r"p95 latency (\d+) ms > 200 ms", opened.message)
    assert float(probe.reading("latency_p95").value) >= 250
    assert re.search(r"p95 latency ms\s+·\S██  \d+  \(alert > 200\)  ▲ 2 of 4 over", opened.chart)


async def test_a_missing_counter_makes_its_rule_blind_with_the_reason(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url, watch={"exposition": {"queries": {
        "error_rate": "error_ratio(grpc_requests_total)"}}})
    runtime = await RolloutRuntime.create(checklist, store, RecordingNotifier(), locks=locks, prefix=locks.prefix,
                                          env={})
    watch = runtime.watch()
    try:
        blind = await watch.preflight()
    finally:
        await watch.stop()
        await runtime.close()
    assert [b.line() for b in blind] == [
        f"P0 error_rate (error_rate): error_ratio(grpc_requests_total): grpc_requests_total is not in "
        f"{target.base_url}/metrics"]


async def test_the_metrics_url_reads_the_target_settings_and_says_when_one_is_missing(target: DemoServer) -> None:
    config = WatchConfig.model_validate({"probes": [], "metrics_url": None, "exposition": {
        "url": "${METRICS_BASE}/metrics", "queries": {"rps": "rate(http_requests_total)"}}})
    collector = Collector(config, "http://unused.invalid", env={"METRICS_BASE": target.base_url})
    missing = Collector(config, "http://unused.invalid")
    by_env = WatchConfig.model_validate({"probes": [], "metrics_url": None, "exposition": {
        "url_env": "METRICS_URL", "queries": {"rps": "rate(http_requests_total)"}}})
    named = Collector(by_env, "http://unused.invalid", env={"METRICS_URL": target.url("/metrics")})
    unset = Collector(by_env, "http://unused.invalid", env={})
    try:
        assert "needs two samples" in (await collector.collect()).unread["rps"]
        assert (await missing.collect()).unread["rps"].startswith(
            "watch.exposition.url: variable METRICS_BASE is not set in the target's settings")
        assert "rps" in (await named.collect()).waiting
        assert (await unset.collect()).unread["rps"] == (
            "watch.exposition.url_env: METRICS_URL is not set in the target's settings (set it there, or give "
            "watch.exposition.url instead)")
    finally:
        for each in (collector, missing, named, unset):
            await each.close()


async def test_the_metrics_page_is_read_no_further_than_the_cap() -> None:
    async with hostile_target() as (base_url, hostile):
        config = WatchConfig.model_validate({"probes": [], "metrics_url": None, "max_body_bytes": 65536,
                                             "exposition": {"url": "/zeros", "queries": {"rps": "rate(x_total)"}}})
        collector = Collector(config, base_url)
        try:
            sample = await collector.collect()
        finally:
            await collector.close()
        assert sample.unread["rps"] == (f"metrics {base_url}/zeros unreadable: the answer exceeds the 64 KiB cap "
                                        "(watch.max_body_bytes)")
        assert "rps" not in sample.waiting
        await hostile.all_streams_done()
        assert hostile.streams[0].sent < IN_FLIGHT


async def test_doctor_lists_the_rules_each_source_can_evaluate_and_the_blind_ones(target: DemoServer) -> None:
    config = WatchConfig.model_validate({
        "metrics": {"cache_hit_rate": None, "task_failure_rate": "tasks.nowhere"},
        "exposition": {"queries": {"error_rate": "error_ratio(http_requests_total)",
                                   "latency_p95_ms": "p95(http_request_duration_seconds) * 1000"}},
        "rules": [REQUEST_RATE_RULE,
                  {"id": "grpc_errors", "level": "P1", "metric": "rate(grpc_errors_total)", "op": "gt",
                   "threshold": 1}],
    })
    lines = [f.line() for f in await watch_source_findings(config, target.base_url)]
    assert lines[:2] == [
        "ok    watch sources: metrics document /healthz/metrics: db_down, redis_down, dns_timeouts, whois_timeouts, "
        "task_failures, integration_success",
        "ok    watch sources: /metrics page /metrics: error_rate, latency_p95, latency_target, request_rate, "
        "grpc_errors"]
    assert lines[2] == ("warn  watch sources: no source publishes the metric of cache_hit_rate: these rules never "
                        "alert → map them in rollout.watch.metrics, prometheus.queries or exposition.queries, or "
                        "list them in disable_rules")
    assert lines[3].startswith(f"warn  watch sources: 2 rule(s) blind against {target.base_url}: "
                               "P1 task_failures (task_failure_rate): tasks.nowhere is not in the metrics document; "
                               "P1 grpc_errors (rate(grpc_errors_total)): rate(grpc_errors_total): grpc_errors_total "
                               f"is not in {target.base_url}/metrics → ")
    assert len(lines) == 4  # the counters it has are only waiting for a second sample: not blind
    assert [f.line() for f in await watch_source_findings(config, None)] == lines[:3]  # the demo: no sample


async def test_doctor_on_a_target_that_does_not_answer_says_so_once() -> None:
    config = WatchConfig.model_validate({"exposition": {"queries": {"error_rate": "error_ratio(http_requests_total)"}},
                                         "timeout_seconds": 2})
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        findings = await watch_source_findings(config, url)
    assert findings[-1].level == "warn" and findings[-1].detail.startswith(f"{url} did not answer (")
    assert findings[-1].detail.endswith("): which rules are blind is not known")
    assert sum(f.level == "warn" for f in findings) == 1
