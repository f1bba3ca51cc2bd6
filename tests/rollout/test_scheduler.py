"""Scheduled runs: a phase's cron runs it through execute_run and hands the outcome to a callback, on
the leader only; crontab weekdays mean what they mean in crontab."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.announcements.events import RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime
from bot.runs.service import RunOutcome
from bot.serving.scheduler import cron_trigger
from bot.store import Store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.rollout.conftest import until


def test_cron_fields_and_crontab_weekdays() -> None:
    monday_9 = cron_trigger("0 9 * * 1-5")  # crontab: 1-5 = Monday..Friday
    saturday = datetime(2025, 1, 4, 12, 0, tzinfo=UTC)
    assert monday_9.get_next_fire_time(None, saturday) == datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    sunday = cron_trigger("30 8 * * 0")  # crontab: 0 = Sunday
    assert sunday.get_next_fire_time(None, saturday) == datetime(2025, 1, 5, 8, 30, tzinfo=UTC)
    every_ten = cron_trigger("*/10 * * * * *")  # six fields: seconds first
    assert every_ten.get_next_fire_time(None, datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)).second == 10
    with pytest.raises(ValueError, match="5 cron fields"):
        cron_trigger("* * *")


async def test_scheduled_phase_runs_on_the_leader_only_and_posts_through_the_callback(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    path = Path(checklist.source_path)
    data = yaml.safe_load(path.read_text())
    data["phases"][0]["schedule"] = "* * * * * *"  # every second
    path.write_text(yaml.safe_dump(data))
    checklist = load_checklist(checklist.source_path)
    posted: list[tuple[str, RunOutcome]] = []
    replicas = []
    for _ in range(2):
        runtime = await RolloutRuntime.create(checklist, store, RecordingNotifier(), locks=locks, prefix=locks.prefix,
                                              env={}, lease_seconds=2)
        replicas.append((runtime, runtime.supervisor(on_run=lambda phase, outcome: posted.append((phase, outcome)))))
    for _, supervisor in replicas:
        await supervisor.start()
    try:
        await until(lambda: len(posted) >= 3, timeout=10)
        assert [s.is_leader for _, s in replicas].count(True) == 1
        phase, outcome = posted[0]
        assert phase == "day3" and outcome.run.source == "schedule" and outcome.run.requested_by == "scheduler"
        assert {r.check_id for r in outcome.report.results} == {"health.ready", "env.flags"}
        runs = await asyncio.to_thread(store.runs, checklist="shop", limit=50)
        per_second = Counter(r.started_at.replace(microsecond=0) for r in runs)
        assert max(per_second.values()) == 1  # one run per fire time, never one per replica
    finally:
        for runtime, supervisor in replicas:
            await supervisor.stop()
            await runtime.close()
