"""Wiring a checklist's rollout from settings: the flag provider, the service, the watch and the
replica-safe supervisor (leader lease + watch + scheduled runs). The CLI, the worker and an
in-process bot (Slack/Teams server) all build it the same way.

Each service's rollout is keyed by the service of its store (bot.store.Store.for_service): its locks, its
leader lease and its open incidents in Redis are named for it, so one service's watch, pause or rollback
never touches another's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.announcements.events import Notifier
from bot.coordination.locks import Locks, RedisLocks, build_locks, for_service, shared_redis
from bot.rollout.incidents import IncidentStore, MemoryIncidentStore, RedisIncidentStore
from bot.rollout.lease import LeaderLease
from bot.rollout.models import WatchConfig, watch_config
from bot.rollout.providers import FlagProvider, build_provider
from bot.rollout.service import RolloutService
from bot.rollout.watch import Watch
from bot.runs.service import RunOutcome
from bot.serving.scheduler import ScheduledRuns, create_scheduler, cron_trigger
from bot.store import Store
from checks.interpolate import MissingVariable, interpolate
from checks.runner import Runner
from checks.spec import Checklist
from checks.target_env import read_target_env

log = logging.getLogger("golive.rollout")
RunCallback = Callable[[str, RunOutcome], Awaitable[None] | None]
LeadershipCallback = Callable[[bool], Awaitable[None] | None]


@dataclass
class RolloutRuntime:
    checklist: Checklist
    store: Store
    notifier: Notifier
    locks: Locks
    prefix: str
    provider: FlagProvider
    service: RolloutService
    config: WatchConfig
    target_url: str
    env: dict[str, str]
    _incidents: IncidentStore | None = None
    _own_locks: Locks | None = None  # built here (no `locks` given): closed with the runtime

    def __post_init__(self) -> None:
        self.service.incidents = self.incidents()

    @classmethod
    async def create(cls, checklist: Checklist, store: Store, notifier: Notifier, *, redis_url: str | None = None,
                     prefix: str = "golive:", locks: Locks | None = None, env: dict[str, str] | None = None,
                     **watch_overrides: Any) -> RolloutRuntime:
        """Everything from the checklist; `${VAR}`s in the provider and target URL come from the target's settings."""
        if checklist.rollout is None or not checklist.rollout.phases:
            raise LookupError(f"{checklist.source_path or checklist.name} has no `rollout.phases` to promote")
        workdir = Path(checklist.source_path).resolve().parent if checklist.source_path else Path.cwd()
        env = env if env is not None else await read_target_env(checklist, workdir)
        try:
            target_url = str(interpolate(checklist.target.base_url, env))
        except MissingVariable as exc:
            raise ValueError(f"target.base_url: {exc}") from None
        config = watch_config(checklist, **watch_overrides)
        provider = build_provider(checklist.rollout.provider, workdir=workdir, env=env, rollout=checklist.rollout)
        own: Locks | None = None
        if locks is None:
            locks = own = build_locks(redis_url, prefix)
        locks = for_service(locks, store.service)  # this service's names, whoever built the locks
        service = RolloutService(store, checklist, provider, notifier=notifier, locks=locks, env=env,
                                 target_url=target_url)
        return cls(checklist=checklist, store=store, notifier=notifier, locks=locks, prefix=prefix,
                   provider=provider, service=service, config=config, target_url=target_url, env=env,
                   _own_locks=own)

    @property
    def shared(self) -> RedisLocks | None:
        """Redis itself (for this service's keys), never an in-process fallback: leadership and alert dedup
        must be shared or not be."""
        return shared_redis(self.locks)

    def incidents(self) -> IncidentStore:
        """One store of open incidents per runtime, shared by its watch and its service (a rollback closes
        the incidents the watch opened): Redis when shared, else in this process's memory."""
        if self._incidents is None:
            if self.shared is not None:
                self._incidents = RedisIncidentStore(self.shared.client, self.prefix, self.checklist.name,
                                                     self.config.incident_ttl_seconds, service=self.store.service)
            else:
                self._incidents = MemoryIncidentStore()
        return self._incidents

    def watch(self, scheduler: Any = None, on_phase: Callable[[str | None], None] | None = None) -> Watch:
        return Watch(self.checklist, self.store, self.notifier, config=self.config, target_url=self.target_url,
                     incidents=self.incidents(), service=self.service, scheduler=scheduler, on_phase=on_phase,
                     env=self.env)

    async def runner(self) -> Runner:
        """A runner whose `flags` check reads the flag provider, on the current rollout phase."""
        from bot.runs.runner import make_runner  # bot.runs.runner imports bot.rollout: import here, not at the top

        return await asyncio.to_thread(make_runner, self.checklist, self.store, env=dict(self.env),
                                       flag_reader=self.service.flag_reader())

    def supervisor(self, *, schedules: bool = True, on_run: RunCallback | None = None,
                   on_leadership: LeadershipCallback | None = None,
                   on_phase: Callable[[str | None], None] | None = None) -> RolloutSupervisor:
        return RolloutSupervisor(self, schedules=schedules, on_run=on_run, on_leadership=on_leadership,
                                 on_phase=on_phase)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.provider.close()
        with contextlib.suppress(Exception):
            await self.locks.close()  # a service's view of the bot's locks: closing it leaves them open
        if self._own_locks is not None and self._own_locks is not self.locks:
            with contextlib.suppress(Exception):
                await self._own_locks.close()


class RolloutSupervisor:
    """Runs the watch and the scheduled runs on exactly one replica: the holder of the leader lease.
    Every replica runs one; the others stand by and take over within the lease when the leader dies."""

    def __init__(self, runtime: RolloutRuntime, *, schedules: bool = True, on_run: RunCallback | None = None,
                 on_leadership: LeadershipCallback | None = None,
                 on_phase: Callable[[str | None], None] | None = None) -> None:
        self.runtime = runtime
        self.scheduler = create_scheduler()
        self.lease = LeaderLease(runtime.shared or runtime.locks, f"rollout:{runtime.checklist.name}",
                                 lease_seconds=runtime.config.lease_seconds)
        self.schedules = schedules
        self.on_run = on_run
        self.on_leadership = on_leadership
        self.on_phase = on_phase
        self.watch: Watch | None = None
        self.scheduled: ScheduledRuns | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        runtime.service.after_change = self._after_change
        for phase in runtime.checklist.phases:  # a bad cron fails now, not on the leader later
            if phase.schedule and schedules:
                try:
                    cron_trigger(phase.schedule)
                except ValueError as exc:
                    raise ValueError(f"phases.{phase.id}.schedule: {exc}") from None

    @property
    def is_leader(self) -> bool:
        return self.lease.leader

    async def start(self) -> None:
        self.scheduler.start()
        self._stop.clear()
        self._task = asyncio.create_task(self.lease.run(self._elected, self._demoted, self._stop),
                                         name="golive-rollout-lease")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _elected(self) -> None:
        log.info("leader %s: starting the watch of %s", self.lease.owner, self.runtime.checklist.name)
        self.watch = self.runtime.watch(self.scheduler, on_phase=self.on_phase)
        await self.watch.start()
        if self.schedules:
            self.scheduled = ScheduledRuns(self.scheduler, self.runtime.store, self.runtime.checklist,
                                           on_result=self.on_run, runner_factory=self.runtime.runner,
                                           claim=lambda key: self.runtime.locks.claim_once(key, ttl=3600))
            self.scheduled.start()
        await self._tell(True)

    async def _demoted(self) -> None:
        log.info("%s is no longer the leader: stopping the watch", self.lease.owner)
        if self.scheduled is not None:
            self.scheduled.stop()
            self.scheduled = None
        if self.watch is not None:
            await self.watch.stop()
            self.watch = None
        await self._tell(False)

    async def _tell(self, leader: bool) -> None:
        if self.on_leadership is not None:
            maybe = self.on_leadership(leader)
            if asyncio.iscoroutine(maybe):
                await maybe

    async def _after_change(self, phase: str | None) -> None:
        """A promotion or rollback made here: sample now instead of at the next interval."""
        if self.watch is not None:
            self.watch.kick()
