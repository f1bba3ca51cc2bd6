"""The bot's scheduler (apscheduler 3, asyncio) and scheduled checklist runs.

A phase with `schedule:` (cron: 5 fields, or 6 with seconds first) runs on that schedule through the
same `execute_run` every other run uses; its outcome goes to a callback (the transports post it).
Only the leader replica starts these jobs; a claim per fire time guards the hand-over moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.runs.service import RunOutcome, execute_run
from bot.store import Store
from checks.runner import Runner
from checks.spec import Checklist

log = logging.getLogger("golive.scheduler")

RunCallback = Callable[[str, RunOutcome], Awaitable[None] | None]
Claim = Callable[[str], Awaitable[bool]]
RunnerFactory = Callable[[], Runner | Awaitable[Runner]]

_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def create_scheduler() -> AsyncIOScheduler:
    """An AsyncIOScheduler in UTC that never piles up runs of a job behind a slow one."""
    return AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                        "misfire_grace_time": 30})


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) in apscheduler 3's terms (0 = Monday), as names."""
    if field in ("*", "?") or not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low, high = (int(x) for x in span.split("-", 1))
        else:
            low = high = int(span)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"day of week {part!r} is out of 0-7")
        days.update(d % 7 for d in range(low, high + 1, int(step) if step else 1))
    return ",".join(_DOW[d] for d in sorted(days))


def cron_trigger(expression: str) -> CronTrigger:
    """`*/5 * * * *` (minute hour day month weekday) or with seconds first: `*/10 * * * * *`."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"schedule {expression!r} must have 5 cron fields (or 6 with seconds first)")
    second, minute, hour, day, month, dow = fields
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_crontab_days(dow), timezone=UTC)


class ScheduledRuns:
    """The cron jobs of one checklist's scheduled phases."""

    def __init__(self, scheduler: AsyncIOScheduler, store: Store, checklist: Checklist, *,
                 on_result: RunCallback | None = None, runner_factory: RunnerFactory | None = None,
                 claim: Claim | None = None) -> None:
        self.scheduler = scheduler
        self.store = store
        self.checklist = checklist
        self.on_result = on_result
        self.runner_factory = runner_factory
        self.claim = claim
        self.job_ids: list[str] = []
        self.triggers = {p.id: cron_trigger(p.schedule) for p in checklist.phases if p.schedule}

    def start(self) -> list[str]:
        for phase_id, trigger in self.triggers.items():
            job = self.scheduler.add_job(self.run_phase, trigger, args=[phase_id], replace_existing=True,
                                         id=f"schedule:{self.checklist.name}:{phase_id}",
                                         name=f"scheduled run of {phase_id}")
            self.job_ids.append(job.id)
        return list(self.job_ids)

    def stop(self) -> None:
        for job_id in self.job_ids:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
        self.job_ids.clear()

    async def run_phase(self, phase_id: str) -> RunOutcome | None:
        fired = int(time.time())  # the second it fired: both replicas of a hand-over compute the same
        if self.claim is not None and not await self.claim(f"schedule:{self.checklist.name}:{phase_id}:{fired}"):
            log.info("scheduled run of %s at %s already claimed by another replica", phase_id, fired)
            return None
        try:
            made = self.runner_factory() if self.runner_factory else Runner(self.checklist)
            runner = await made if asyncio.iscoroutine(made) else made
            assert isinstance(runner, Runner)
            outcome = await execute_run(self.store, self.checklist, phase_id, requested_by="scheduler",
                                        source="schedule", runner=runner)
        except Exception:
            log.exception("scheduled run of %s failed", phase_id)
            return None
        if self.on_result is not None:
            try:
                maybe = self.on_result(phase_id, outcome)
                if asyncio.iscoroutine(maybe):
                    await maybe
            except Exception:
                log.exception("posting the scheduled run of %s failed", phase_id)
        return outcome
