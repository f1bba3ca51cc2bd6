"""The watch: an apscheduler job that samples the target, evaluates the alert rules and publishes what
the incident tracker decides. A P0 on a phase with `on_p0: rollback` rolls back by itself; with
`on_p0: pause` it pauses promotions and the alert asks (Roll back / Keep going).

It samples only while a rollout phase is active or an incident is still open (so a rollback to
"no phase" still gets its all-clear). After a first breach it samples again sooner (the confirmation
interval), so an alert needs `consecutive` samples without waiting `consecutive` full intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.announcements.events import AlertEvent, Announcement, Notifier
from bot.rollout.chart import remember, watch_chart
from bot.rollout.incidents import IncidentStore, IncidentTracker, MemoryIncidentStore
from bot.rollout.metrics import Collector, Sample
from bot.rollout.models import NO_PHASE, RuleSpec, WatchConfig
from bot.rollout.records import RolloutRecords
from bot.rollout.rules import BlindRule, Reading, blind_rules, evaluate, rules_for
from bot.rollout.service import RolloutService
from bot.serving.scheduler import create_scheduler
from bot.store import Store
from checks.masking import mask
from checks.spec import Checklist, Criteria, RolloutPhase

log = logging.getLogger("golive.watch")
WATCH_ACTOR = "golive-watch"


class Watch:
    def __init__(self, checklist: Checklist, store: Store, notifier: Notifier, *, config: WatchConfig,
                 target_url: str, incidents: IncidentStore | None = None, service: RolloutService | None = None,
                 scheduler: AsyncIOScheduler | None = None, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.time,
                 on_phase: Callable[[str | None], None] | None = None, env: Mapping[str, str] | None = None,
                 ) -> None:
        self.checklist = checklist
        self.notifier = notifier
        self.config = config
        self.service = service
        self.collector = Collector(config, target_url, client, clock=clock, env=env)
        self.tracker = IncidentTracker(checklist.name, incidents or MemoryIncidentStore(), config, clock)
        self.records = RolloutRecords(store, checklist.name)
        self.scheduler = scheduler or create_scheduler()
        self._own_scheduler = scheduler is None
        self.job_id = f"watch:{checklist.name}"
        self._lock = asyncio.Lock()
        self.samples = 0
        self.on_phase = on_phase
        self._phase_seen: str | bool | None = False  # False: nothing seen yet
        self.last_sample: Sample | None = None
        self.last_readings: list[Reading] = []
        self.chart = ""  # the latest chart of the watched metrics (bot.rollout.chart)
        self.blind: list[BlindRule] = []
        self._blind_told: str | None = None  # the phase whose thread was told about the blind rules

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.scheduler.running and self.scheduler.get_job(self.job_id) is not None

    async def start(self) -> None:
        """Add the polling job (first sample now) to the scheduler, starting it if it is ours."""
        if self._own_scheduler and not self.scheduler.running:
            self.scheduler.start()
        self.scheduler.add_job(self.tick, "interval", seconds=self.config.interval_seconds, id=self.job_id,
                               name=f"rollout watch of {self.checklist.name}", replace_existing=True,
                               next_run_time=datetime.now(UTC), max_instances=3, coalesce=True,
                               misfire_grace_time=max(1, int(self.config.interval_seconds)))

    async def stop(self) -> None:
        """Remove the job and wait for a sample in flight to finish."""
        with contextlib.suppress(Exception):
            self.scheduler.remove_job(self.job_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.timeout_seconds + 1):
                async with self._lock:
                    pass
        if self._own_scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.collector.close()

    def kick(self, delay: float = 0.0) -> None:
        """Sample soon (after a promotion, or to confirm a first breach) instead of at the next interval."""
        job = self.scheduler.get_job(self.job_id) if self.scheduler.running else None
        when = datetime.now(UTC) + timedelta(seconds=delay)
        if job is not None and (job.next_run_time is None or job.next_run_time > when):
            job.modify(next_run_time=when)

    # -- preflight -----------------------------------------------------------------------------
    async def preflight(self) -> list[BlindRule]:
        """Evaluate every rule once against the target: the ones it cannot evaluate are blind."""
        phase_id = await asyncio.to_thread(self.records.phase)
        phase = self.checklist.rollout.phase(phase_id) if phase_id and self.checklist.rollout else None
        sample = await self.collector.collect()
        self.blind = blind_rules(sample, rules_for(self.config, phase.criteria if phase else Criteria()),
                                 self.collector.has_source)
        return self.blind

    async def _tell_blind(self, phase: RolloutPhase, sample: Sample, rules: list[RuleSpec]) -> None:
        """Once per phase (its thread), say which rules this watch cannot evaluate."""
        if self._blind_told == phase.id:
            return
        self._blind_told = phase.id
        self.blind = blind_rules(sample, rules, self.collector.has_source)
        if not self.blind:
            return
        reasons = [b.line() for b in self.blind]
        reasons.append("a blind rule cannot raise an alert; publish the metric, point watch.metrics at it, or "
                       "mark the rule optional (watch.optional_rules)")
        event = Announcement(kind="blind", checklist=self.checklist.name, phase=phase.id, actor=WATCH_ACTOR,
                             reasons=reasons)
        try:
            await self.notifier.publish(event)
        except Exception as exc:
            log.warning("publishing the blind rules failed: %s", mask(str(exc)))

    # -- one sample ----------------------------------------------------------------------------
    async def tick(self) -> list[AlertEvent]:
        """Take one sample and publish what it causes; never raises (the job must keep running).
        A tick that finds the previous sample still running (a slow target) skips quietly."""
        if self._lock.locked():
            return []
        async with self._lock:
            try:
                return await self._tick()
            except Exception as exc:
                log.warning("watch sample failed: %s", mask(f"{type(exc).__name__}: {exc}"))
                return []
            finally:
                if self.tracker.pending():
                    self.kick(self.config.confirm_interval)

    async def _tick(self) -> list[AlertEvent]:
        phase_id = await asyncio.to_thread(self.records.phase)
        phase = self.checklist.rollout.phase(phase_id) if phase_id and self.checklist.rollout else None
        if self.on_phase is not None and self._phase_seen != (phase.id if phase else None):
            self._phase_seen = phase.id if phase else None
            self.on_phase(self._phase_seen)
        if phase is None and not await self.tracker.store.current():
            return []  # nothing rolled out and nothing open: nothing to watch
        sample = await self.collector.collect()
        rules = rules_for(self.config, phase.criteria if phase else Criteria())
        readings = evaluate(sample, self.config, rules, phase.flags if phase else {}, self.collector.has_source)
        self.samples += 1
        self.last_sample, self.last_readings = sample, readings
        points = await asyncio.to_thread(remember, self.records.store, self.checklist.name, sample, rules)
        self.chart = watch_chart(points, phase.criteria if phase else None)
        if phase is not None:
            await self._tell_blind(phase, sample, rules)
        events = await self.tracker.observe(readings, phase.id if phase else NO_PHASE)
        for event in events:
            await self._handle(event, phase)
        return events

    async def _handle(self, event: AlertEvent, phase: RolloutPhase | None) -> None:
        event.chart = event.chart or self.chart
        await asyncio.to_thread(self._record, event)
        if event.level == "P2":  # P2 is log only
            log.info("P2 %s: %s", event.state, event.message)
            return
        if event.state == "resolved" and (paused := await asyncio.to_thread(self.records.paused)):
            event.message += (f" — the rollout is still paused at {paused.get('phase')}: resume with `golive resume` "
                              "(terminal) or `/golive resume` (chat), or roll back")
        current = phase is not None and phase.id == event.phase and self.service is not None
        if event.level == "P0" and event.state != "resolved" and current:
            assert phase is not None
            event.actions = ["rollback", "keep_going"] if phase.on_p0 == "pause" else ["rollback"]
            if phase.on_p0 == "rollback" and event.state == "opened":
                event.message += " — rolling back automatically (on_p0: rollback)"
        try:
            await self.notifier.publish(event)
        except Exception as exc:
            log.warning("publishing %s %s failed: %s", event.level, event.state, mask(str(exc)))
        if event.level == "P0" and event.state == "opened" and current:
            assert phase is not None and self.service is not None
            if phase.on_p0 == "rollback":
                await self.service.rollback(actor=WATCH_ACTOR, reason=f"P0: {event.message}")
            else:
                await self.service.pause(phase=phase.id, reason=f"P0: {event.message}", incident_id=event.incident_id,
                                         actor=WATCH_ACTOR)

    def _record(self, event: AlertEvent) -> None:
        if event.state == "opened":
            self.records.incident_opened(id=event.incident_id, level=event.level, phase=event.phase,
                                         rules=event.rule.split(", "), message=event.message, opened_at=event.at)
        elif event.state == "escalated":
            self.records.incident_escalated(event.incident_id)
        else:
            self.records.incident_resolved(event.incident_id)
