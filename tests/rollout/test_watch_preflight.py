"""The watch against a service it has never seen (issue 10, Done-when 3): its metrics document lacks
every default path, so the watch says which rules are blind (in the rollout thread, in `golive watch`
and `golive checks`); a blind rule never holds an incident open, so a readiness P0 resolves within two
samples of recovery; a rollback closes the phase's incident; `golive resume` clears the pause (refused
while the P0 is open); and the next promotion with readiness failing raises a new P0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from bot.announcements.events import AlertEvent, Announcement, RecordingNotifier
from bot.cli import main
from bot.coordination.locks import RedisLocks, redis_client
from bot.rollout import RolloutRuntime
from bot.runs.service import execute_run
from bot.store import open_store
from checks.loader import load_checklist
from tests.conftest import REDIS_URL
from tests.operators import write_operators


class Service:
    """A small service of its own shape: live/ready probes and a metrics document golive does not know."""

    def __init__(self) -> None:
        self.ready = 200
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def live(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        async def ready(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok" if self.ready == 200 else "starting"}, status=self.ready)

        async def metrics(request: web.Request) -> web.Response:
            return web.json_response({"uptime_s": 12, "http": {"requests_total": 420, "p99_seconds": 0.08}})

        app = web.Application()
        app.router.add_get("/healthz/live", live)
        app.router.add_get("/healthz/ready", ready)
        app.router.add_get("/healthz/metrics", metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    svc = Service()
    await svc.start()
    yield svc
    await svc.stop()


def write_checklist(tmp_path: Path, base_url: str) -> str:
    data: dict[str, Any] = {
        "name": "svc", "target": {"base_url": base_url},
        "phases": [{"id": "verify", "checks": [{"id": "health.live", "kind": "http", "criticality": "critical",
                                                "params": {"url": "/healthz/live"}}]}],
        "rollout": {"provider": {"kind": "dotenv", "path": "flags.env"},
                    "phases": [{"id": "phase-1", "flags": {"A_ON": True}, "requires_signoff": []},
                               {"id": "phase-2", "flags": {"A_ON": True, "B_ON": True}, "requires_signoff": []}],
                    "watch": {"interval_seconds": 0.2, "timeout_seconds": 2, "optional_rules": ["latency_target"]}},
    }
    (tmp_path / "flags.env").write_text("A_ON=false\nB_ON=false\n")
    path = tmp_path / "svc.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


DEFAULT_BLIND = {"db_down", "redis_down", "error_rate", "latency_p95", "dns_timeouts", "whois_timeouts",
                 "task_failures", "integration_success", "cache_hit_rate"}


def p0s(notifier: RecordingNotifier) -> list[AlertEvent]:
    return [e for e in notifier.events if isinstance(e, AlertEvent) and e.level == "P0"]


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_blind_rules_are_told_and_never_hold_a_p0_open_rollback_closes_it_resume_clears_the_pause(
        service: Service, tmp_path: Path, isolated_env: None, redis_prefix: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOLIVE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("GOLIVE_REDIS_PREFIX", redis_prefix)
    monkeypatch.setenv("GOLIVE_ROLES", "tech_lead=U_LEAD")  # the CLI applies the access table, as chat does
    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U_LEAD")))
    path = write_checklist(tmp_path, service.url)
    checklist = load_checklist(path)
    store = open_store(sqlite_path=tmp_path / "state" / "golive.db")
    client = redis_client(REDIS_URL)
    notifier = RecordingNotifier()
    runtime = await RolloutRuntime.create(checklist, store, notifier, locks=RedisLocks(client, redis_prefix),
                                          prefix=redis_prefix, env={})
    watch = runtime.watch()
    try:
        # `golive checks` evaluates every rule once and names the blind ones (optional ones stay quiet)
        assert await cli("checks", "--checklist", path) == 0
        out = capsys.readouterr().out
        assert "9 rule(s) blind" in out and "blind: P0 db_down (db_status): db.status is not in the metrics" in out
        assert "latency_target" not in out

        await execute_run(store, checklist, "verify")
        assert (await runtime.service.promote("phase-1", actor="U_LEAD")).ok
        await watch.tick()
        told = [e for e in notifier.events if isinstance(e, Announcement) and e.kind == "blind"]
        assert len(told) == 1 and told[0].phase == "phase-1"
        assert {line.split()[1] for line in told[0].reasons[:-1]} == DEFAULT_BLIND
        await watch.tick()
        assert len([e for e in notifier.events if isinstance(e, Announcement) and e.kind == "blind"]) == 1  # once

        service.ready = 503  # readiness fails: a P0 after two samples, the rollout pauses
        await watch.tick()
        await watch.tick()
        assert [e.state for e in p0s(notifier)] == ["opened"] and p0s(notifier)[0].rule == "probe.ready"
        assert store.get("rollout:svc:paused")
        assert await cli("resume", "--checklist", path, "--by", "U_LEAD") == 1  # refused while the P0 is open
        assert "P0 incident" in capsys.readouterr().out

        service.ready = 200  # recovery: the blind rules stay inconclusive, yet two samples clear it
        await watch.tick()
        assert [e.state for e in p0s(notifier)] == ["opened"]
        await watch.tick()
        resolved = p0s(notifier)[-1]
        assert resolved.state == "resolved" and "golive resume" in resolved.message  # how to resume
        assert await cli("resume", "--checklist", path, "--by", "U_LEAD") == 0
        assert store.get("rollout:svc:paused") is None

        assert (await runtime.service.promote("phase-2", actor="U_LEAD")).ok
        service.ready = 503
        await watch.tick()
        await watch.tick()
        second = p0s(notifier)[-1]
        assert second.state == "opened" and second.phase == "phase-2"
        rolled = await runtime.service.rollback(actor="U_LEAD", reason="readiness")
        assert rolled.ok and rolled.phase == "phase-1"
        closed = p0s(notifier)[-1]
        assert closed.incident_id == second.incident_id and closed.state == "resolved"
        assert "closed by the rollback of phase-2" in closed.message
        assert await runtime.incidents().current() == {}
        assert runtime.service.records.open_incidents() == []

        # promoted again with readiness still failing: a new P0, not silence
        assert await cli("promote", "phase-2", "--checklist", path, "--by", "U_LEAD") == 0
        await watch.tick()
        await watch.tick()
        third = p0s(notifier)[-1]
        assert third.state == "opened" and third.phase == "phase-2" and third.incident_id != second.incident_id
    finally:
        await watch.stop()
        await runtime.close()
        store.close()


def test_golive_watch_prints_the_blind_rules_at_start(tmp_path: Path, isolated_env: None) -> None:
    async def start() -> Service:
        svc = Service()
        await svc.start()
        return svc

    loop = asyncio.new_event_loop()
    svc = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        path = write_checklist(tmp_path, svc.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
        env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]), GOLIVE_STATE_DIR=str(tmp_path / "state"))
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "watch", "--checklist", path, "--no-schedules"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "publish the metric" in line or "every rule can be evaluated" in line or len(lines) > 40:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=15)
        text = "".join(lines) + rest
        assert "9 rule(s) are blind" in text, text
        assert "blind: P0 redis_down (redis_status): redis.status is not in the metrics document" in text
    finally:
        asyncio.run_coroutine_threadsafe(svc.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_blind_rules_name_why_and_optional_rules_stay_quiet() -> None:
    from bot.rollout.metrics import Sample
    from bot.rollout.models import RuleSpec
    from bot.rollout.rules import blind_rules

    sample = Sample(metrics={"latency_p95_ms": {"": "n/a"}, "error_rate": {"": 0.0}},
                    unread={"task_failure_rate": "Prometheus returned no series for task_failure_rate"})
    rules = [RuleSpec(id="errors", level="P0", metric="error_rate", op="gt", threshold=0.01),
             RuleSpec(id="p95", level="P1", metric="latency_p95_ms", op="gt", threshold=2000),
             RuleSpec(id="tasks", level="P1", metric="task_failure_rate", op="gt", threshold=0.05),
             RuleSpec(id="queue", level="P1", metric="queue_depth", op="gt", threshold=100),
             RuleSpec(id="cache", level="P2", metric="cache_hit_rate", op="lt", threshold=0.5, optional=True)]
    blind = {b.rule: b.why for b in blind_rules(sample, rules, has_source=lambda m: m != "queue_depth")}
    assert set(blind) == {"p95", "tasks", "queue"}
    assert "not a number" in blind["p95"] and "Prometheus returned no series" in blind["tasks"]
    assert "no source publishes" in blind["queue"]


async def test_an_incident_waits_for_its_own_rules_not_for_blind_ones() -> None:
    from bot.rollout.incidents import IncidentTracker, MemoryIncidentStore
    from bot.rollout.models import WatchConfig
    from bot.rollout.rules import Reading

    tracker = IncidentTracker("svc", MemoryIncidentStore(), WatchConfig(consecutive=2))
    blind = Reading("db_down", "P0", "inconclusive", "DB status: db.status is not in the metrics document")
    broken = Reading("probe.ready", "P0", "breach", "readiness answered 503")
    fine = Reading("probe.ready", "P0", "ok")
    unread = Reading("probe.ready", "P0", "inconclusive", "readiness timed out")
    assert await tracker.observe([broken, blind], "phase-1") == []
    (opened,) = await tracker.observe([broken, blind], "phase-1")
    assert opened.state == "opened" and opened.rule == "probe.ready"
    assert await tracker.observe([fine, blind], "phase-1") == []
    assert await tracker.observe([unread, blind], "phase-1") == []  # its own rule unread: not healthy
    assert await tracker.observe([fine, blind], "phase-1") == []
    (resolved,) = await tracker.observe([fine, blind], "phase-1")
    assert resolved.state == "resolved" and resolved.incident_id == opened.incident_id
