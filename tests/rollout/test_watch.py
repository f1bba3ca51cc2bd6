"""The watch over real HTTP: the demo target goes healthy → failing → healthy and the notifier gets
exactly one alert of the right level, one escalation when it lasts, and one all-clear."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.announcements.events import AlertEvent, Announcement, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime, Watch
from bot.rollout.models import DEPLOYMENT_KEY
from bot.store import Store
from checks.spec import Checklist
from tests.rollout.conftest import Traffic, until


def alerts(notifier: RecordingNotifier) -> list[AlertEvent]:
    return [e for e in notifier.events if isinstance(e, AlertEvent)]


def states(notifier: RecordingNotifier) -> list[tuple[str, str]]:
    return [(e.level, e.state) for e in alerts(notifier)]


async def started_watch(checklist: Checklist, store: Store, locks: RedisLocks, notifier: RecordingNotifier,
                        phase: str | None = "phase-1", *, start: bool = True, **overrides: Any,
                        ) -> tuple[RolloutRuntime, Watch]:
    runtime = await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=locks.prefix, env={},
                                          **overrides)
    await asyncio.to_thread(runtime.service.records.set_phase, phase)
    watch = runtime.watch()
    if start:
        await watch.start()
    return runtime, watch


async def fail_readiness(target: DemoServer) -> None:
    target.set(mode="degraded", failing="redis")


async def fail_with_500s(target: DemoServer) -> None:
    target.state.reset()
    target.set(mode="error_rate", error_fraction=0.5)


async def fail_slow(target: DemoServer) -> None:
    target.state.reset()
    target.set(mode="slow", delay_ms=350)


SCENARIOS = {
    # name: (break it, needs API traffic, level, what the alert must say)
    "readiness-503": (fail_readiness, False, "P0", [r"readiness http://\S+/healthz/ready answered 503 \(expected 200\)"
                                                    r" — redis: error \(connection refused\)",
                                                    r"Redis status is 'error' \(expected 'ok'\)"]),
    "api-500s": (fail_with_500s, True, "P0", [r"^5xx error rate (4\d|5\d)\.\d% > 1\.0%$"]),
    "slow": (fail_slow, True, "P1", [r"^p95 latency \d{3} ms > 200 ms$"]),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_healthy_failing_healthy_gives_one_alert_one_escalation_one_all_clear(
        scenario: str, write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks,
        target: DemoServer) -> None:
    breaks, needs_traffic, level, phrases = SCENARIOS[scenario]
    checklist = write_checklist(target.base_url, criteria={"p95_latency_ms_alert": 200},
                                watch={"escalate_after_seconds": 1.0, "escalate_mention": "<!subteam^S0ONCALL>"})
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier)
    try:
        await until(lambda: watch.samples >= 3)
        assert alerts(notifier) == []  # healthy: silence

        async with Traffic(target.base_url) if needs_traffic else _nothing():
            await breaks(target)
            await until(lambda: states(notifier) == [(level, "opened")], timeout=8)
            await until(lambda: (level, "escalated") in states(notifier), timeout=5)
            await asyncio.sleep(1.2)  # still failing, past another escalate_after: no second escalation
        await asyncio.sleep(0.5)  # let requests still in the target finish, so they count before the reset
        target.state.reset()  # healthy again, counters cleared
        await until(lambda: (level, "resolved") in states(notifier), timeout=8)
        await asyncio.sleep(0.8)  # and nothing more afterwards
    finally:
        await watch.stop()
        await runtime.close()

    assert states(notifier) == [(level, "opened"), (level, "escalated"), (level, "resolved")]
    opened, escalated, resolved = alerts(notifier)
    for pattern in phrases:
        assert re.search(pattern, opened.message), opened.message
    assert opened.incident_id == escalated.incident_id == resolved.incident_id and opened.phase == "phase-1"
    assert escalated.mention == "<!subteam^S0ONCALL>" and "still failing after" in escalated.message
    assert "all clear after" in resolved.message
    if level == "P0":  # phase-1 has on_p0: pause → buttons, a pause, and downtime in the deployment record
        assert opened.actions == ["rollback", "keep_going"]
        assert ("paused", "phase-1") in [(e.kind, e.phase) for e in notifier.events if isinstance(e, Announcement)]
        assert store.get(DEPLOYMENT_KEY.format(checklist="shop"))["downtime_seconds"] > 0
    else:
        assert opened.actions == []
    rows = runtime.service.records.incidents()
    assert len(rows) == 1 and rows[0]["resolved_at"] and rows[0]["escalated_at"] and rows[0]["level"] == level


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_a_short_outage_does_not_escalate_and_one_bad_sample_does_not_alert(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url, watch={"escalate_after_seconds": 30})
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier, start=False)
    await watch.tick()
    target.set(mode="down")  # readiness 500; the metrics document is unreadable too (inconclusive)
    assert await watch.tick() == []  # one breaching sample is not an alert
    target.set(mode="healthy")
    assert await watch.tick() == []  # …and a healthy one resets the count
    target.set(mode="down")
    assert await watch.tick() == []
    opened = await watch.tick()
    assert [(e.level, e.state) for e in opened] == [("P0", "opened")]
    assert "readiness" in opened[0].message and "answered 500" in opened[0].message
    assert len(opened) == 1  # metrics unreadable → their rules are inconclusive, never a second alert
    target.set(mode="healthy")
    assert await watch.tick() == []  # one healthy sample is not yet an all-clear
    assert [(e.level, e.state) for e in await watch.tick()] == [("P0", "resolved")]
    assert states(notifier) == [("P0", "opened"), ("P0", "resolved")]
    await watch.stop()
    await runtime.close()


async def test_on_p0_rollback_rolls_back_by_itself(write_checklist: Callable[..., Checklist], store: Store,
                                                    locks: RedisLocks, target: DemoServer, tmp_path: Path) -> None:
    checklist = write_checklist(target.base_url, on_p0="rollback")
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier, phase="phase-2", start=False)
    await runtime.provider.write({"APP_PC_ENABLED": True})
    target.set(mode="degraded", failing="db")
    await watch.tick()
    (opened,) = await watch.tick()
    assert opened.level == "P0" and "rolling back automatically" in opened.message and opened.phase == "phase-2"
    assert "DB status is 'error'" in opened.message
    assert await runtime.service.current_phase() == "phase-1"
    assert (await runtime.provider.read(["APP_PC_ENABLED"])) == {"APP_PC_ENABLED": "false"}
    rolled = [e for e in notifier.events if isinstance(e, Announcement)]
    assert [(e.kind, e.actor, e.previous_phase) for e in rolled] == [("rolled_back", "golive-watch", "phase-2")]
    # the rollback ended phase-2, so it closed the incident in the same thread (no all-clear to wait for)
    closed = [e for e in notifier.events if isinstance(e, AlertEvent) and e.state == "resolved"]
    assert len(closed) == 1 and closed[0].incident_id == opened.incident_id and closed[0].phase == "phase-2"
    assert "closed by the rollback of phase-2 to phase-1 by golive-watch" in closed[0].message
    target.set(mode="healthy")
    await watch.tick()
    assert await watch.tick() == []
    await watch.stop()
    await runtime.close()


async def test_watch_idles_without_a_phase_and_follows_an_open_incident(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier, phase=None, start=False)
    target.set(mode="down")
    for _ in range(3):
        assert await watch.tick() == []
    assert watch.samples == 0  # nothing rolled out: nothing polled
    await asyncio.to_thread(runtime.service.records.set_phase, "phase-1")
    await watch.tick()
    assert [e.state for e in await watch.tick()] == ["opened"]
    await asyncio.to_thread(runtime.service.records.set_phase, None)  # rolled back to nothing meanwhile
    target.set(mode="healthy")
    await watch.tick()
    (resolved,) = await watch.tick()  # the open incident is still followed to its all-clear
    assert resolved.state == "resolved" and resolved.actions == []
    await watch.stop()
    await runtime.close()


async def test_integration_success_only_counts_for_integrations_the_phase_enables(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier, phase="phase-2", start=False)
    target.state.override_metrics({"integrations.d365.success_rate": 0.5, "cache.hit_rate": 0.1})
    caused = [e for _ in range(3) for e in await watch.tick()]
    assert [(e.level, e.rule) for e in caused] == [("P2", "cache_hit_rate")]  # a P2 incident: logged…
    assert notifier.events == []  # …never posted, and D365 is off in phase-2: its success rate is no criterion
    await asyncio.to_thread(runtime.service.records.set_phase, "phase-3")
    await watch.tick()
    (opened,) = await watch.tick()
    assert (opened.level, opened.rule) == ("P1", "integration_success")
    assert opened.message == "integration success rate (d365) 50.0% < 90.0%"
    assert notifier.events == [opened]  # the P2 incident was never published
    await watch.stop()
    await runtime.close()


class Prometheus:
    """A Prometheus HTTP API stub whose answer the test switches: a value, an error, or no series."""

    def __init__(self) -> None:
        self.value: float | None = 0.0
        self.broken = False
        self.queries: list[str] = []

    async def query(self, request: web.Request) -> web.Response:
        self.queries.append(request.query["query"])
        if self.broken:
            return web.json_response({"status": "error", "error": "query timed out"}, status=503)
        result = [] if self.value is None else [{"metric": {"job": "shop"}, "value": [1700000000, str(self.value)]}]
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": result}})


@pytest.fixture
async def prometheus() -> AsyncIterator[tuple[Prometheus, str]]:
    stub = Prometheus()
    app = web.Application()
    app.router.add_get("/api/v1/query", stub.query)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield stub, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_prometheus_source_and_inconclusive_samples(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer,
        prometheus: tuple[Prometheus, str]) -> None:
    stub, url = prometheus
    query = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
    checklist = write_checklist(target.base_url, watch={
        "metrics": {"error_rate": None}, "prometheus": {"url": url, "queries": {"error_rate": query}}})
    notifier = RecordingNotifier()
    runtime, watch = await started_watch(checklist, store, locks, notifier, start=False)
    await watch.tick()
    assert stub.queries == [query]
    stub.value = 0.2
    assert await watch.tick() == []
    stub.broken = True  # unreadable: neither healthy nor a breach — the count of 1 stands
    assert await watch.tick() == []
    assert any(r.rule == "error_rate" and r.state == "inconclusive" and "503" in r.message
               for r in watch.last_readings)
    stub.broken = False
    (opened,) = await watch.tick()  # breach, inconclusive, breach: two breaching samples in a row
    assert opened.message == "5xx error rate (job=shop) 20.0% > 1.0%"
    stub.value = 0.0
    await watch.tick()
    stub.value = None  # no series: inconclusive, so the healthy streak starts over
    await watch.tick()
    stub.value = 0.0
    assert await watch.tick() == []  # one healthy after the inconclusive one is not enough
    assert [e.state for e in await watch.tick()] == ["resolved"]
    await watch.stop()
    await runtime.close()
