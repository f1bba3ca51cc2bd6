"""The bot's scheduler (apscheduler 3, asyncio) and scheduled checklist runs.

A phase with `schedule:` (cron: 5 fields, or 6 with seconds first) runs on that schedule through the
same `execute_run` every other run uses; its outcome goes to a callback (the transports post it).
Only the leader replica starts these jobs; a claim per fire time guards the hand-over moment.
The leader also prunes history older than GOLIVE_RETENTION_DAYS (bot.store.retention) every few hours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.runs.service import RunOutcome, execute_run
from bot.store import Store
from bot.store.retention import PruneReport, prune, retention_days
from checks.runner import Runner
from checks.spec import Checklist

log = logging.getLogger("golive.scheduler")

RunCallback = Callable[[str, RunOutcome], Awaitable[None] | None]
Claim = Callable[[str], Awaitable[bool]]
RunnerFactory = Callable[[], Runner | Awaitable[Runner]]

PRUNE_EVERY = timedelta(hours=6)
PRUNE_FIRST_AFTER = timedelta(minutes=5)  # not during start-up, when replicas are busy reconnecting
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
                 claim: Claim | None = None, retention: timedelta | bool | None = True) -> None:
        """`retention`: prune history older than this; True (default) reads GOLIVE_RETENTION_DAYS, and
        None/False or 0 days keeps everything."""
        self.scheduler = scheduler
        self.store = store
        self.checklist = checklist
        self.on_result = on_result
        self.runner_factory = runner_factory
        self.claim = claim
        self.job_ids: list[str] = []
        self.triggers = {p.id: cron_trigger(p.schedule) for p in checklist.phases if p.schedule}
        if retention is True:
            try:
                days = retention_days()
            except ValueError as exc:
                log.warning("%s: not pruning", exc)
                days = 0
            retention = timedelta(days=days) if days > 0 else None
        self.retention: timedelta | None = retention or None

    def start(self) -> list[str]:
        for phase_id, trigger in self.triggers.items():
            job = self.scheduler.add_job(self.run_phase, trigger, args=[phase_id], replace_existing=True,
                                         id=f"schedule:{self.checklist.name}:{phase_id}",
                                         name=f"scheduled run of {phase_id}")
            self.job_ids.append(job.id)
        if self.retention is not None:
            job = self.scheduler.add_job(self.prune_history, IntervalTrigger(seconds=PRUNE_EVERY.total_seconds(),
                                                                              timezone=UTC),
                                         next_run_time=datetime.now(UTC) + PRUNE_FIRST_AFTER, replace_existing=True,
                                         id=f"retention:{self.checklist.name}", name="prune old history")
            self.job_ids.append(job.id)
        return list(self.job_ids)

    def stop(self) -> None:
        for job_id in self.job_ids:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
        self.job_ids.clear()

    async def prune_history(self) -> PruneReport | None:
        """Delete history older than the retention (batched, audited); once per interval across replicas."""
        if self.retention is None:
            return None
        window = int(time.time() // PRUNE_EVERY.total_seconds())
        if self.claim is not None and not await self.claim(f"retention:{self.checklist.name}:{window}"):
            return None
        try:
            report = await asyncio.to_thread(prune, self.store, self.retention, dry_run=False,
                                             actor="golive-retention")
        except Exception:
            log.exception("pruning history older than %s failed", self.retention)
            return None
        if report.deleted:
            log.info("pruned %d run(s), %d result(s), %d rollout event(s) older than %s in %d batch(es)",
                     report.runs, report.results, report.events, self.retention, len(report.batches))
        return report

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
