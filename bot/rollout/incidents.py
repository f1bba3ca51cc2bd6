"""Incidents: from readings to exactly one message per incident, one escalation, one all-clear.

An incident is per alert level (one P0 incident may name several broken rules). It opens after
`consecutive` breaching samples, escalates once past `escalate_after_seconds`, and clears after
`recover_after` healthy samples. Healthy means: nothing at the level breaches and the rules that
raised the incident read ok; a rule that cannot be read (blind, inconclusive) and did not raise it
never holds an incident open. Before an incident, an inconclusive sample keeps the breach count.
The open incident lives in Redis and every transition is a compare-and-set there (SET NX to
open and to escalate, compare-and-delete to clear), so two replicas can never both post it, and a new
leader continues the incident the old one opened.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bot.announcements.events import AlertEvent, AlertLevel, AlertState
from bot.rollout.models import LEVELS, WatchConfig
from bot.rollout.rules import Reading
from bot.store.servicekeys import DEFAULT_SERVICE, service_key


@dataclass
class Incident:
    id: str
    checklist: str
    level: AlertLevel
    phase: str
    rules: list[str]
    message: str
    opened_at: float
    value: Any = None
    threshold: Any = None

    def dumps(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def loads(cls, raw: str | bytes) -> Incident:
        return cls(**json.loads(raw))


class IncidentStore(Protocol):
    async def current(self) -> dict[AlertLevel, Incident]: ...
    async def open(self, incident: Incident) -> bool: ...
    async def escalate(self, incident: Incident) -> bool: ...
    async def resolve(self, incident: Incident) -> bool: ...


_RESOLVE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, doc = pcall(cjson.decode, v)
if ok and doc['id'] == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


class RedisIncidentStore:
    """Open incidents shared by every replica (keys under the bot's Redis prefix, named for the service:
    `golive:incident:svc:<key>:<checklist>:P0` for another service than the default)."""

    def __init__(self, client: Any, prefix: str, checklist: str, ttl: float = 7 * 86400.0, *,
                 service: str = DEFAULT_SERVICE) -> None:
        self.client = client
        self.base = f"{prefix}incident:{service_key(service, checklist)}"
        self.ttl = int(ttl)

    def key(self, level: str) -> str:
        return f"{self.base}:{level}"

    async def current(self) -> dict[AlertLevel, Incident]:
        raw = await self.client.mget([self.key(level) for level in LEVELS])
        return {level: Incident.loads(value) for level, value in zip(LEVELS, raw, strict=True) if value}

    async def open(self, incident: Incident) -> bool:
        return bool(await self.client.set(self.key(incident.level), incident.dumps(), nx=True, ex=self.ttl))

    async def escalate(self, incident: Incident) -> bool:
        return bool(await self.client.set(f"{self.base}:escalated:{incident.id}", "1", nx=True, ex=self.ttl))

    async def resolve(self, incident: Incident) -> bool:
        return bool(await self.client.eval(_RESOLVE, 1, self.key(incident.level), incident.id))


class MemoryIncidentStore:
    """The same contract for a single process without Redis (`golive watch` on a laptop, tests)."""

    def __init__(self) -> None:
        self.open_incidents: dict[AlertLevel, Incident] = {}
        self.escalated: set[str] = set()

    async def current(self) -> dict[AlertLevel, Incident]:
        return dict(self.open_incidents)

    async def open(self, incident: Incident) -> bool:
        if incident.level in self.open_incidents:
            return False
        self.open_incidents[incident.level] = incident
        return True

    async def escalate(self, incident: Incident) -> bool:
        if incident.id in self.escalated:
            return False
        self.escalated.add(incident.id)
        return True

    async def resolve(self, incident: Incident) -> bool:
        if self.open_incidents.get(incident.level, None) is None or \
                self.open_incidents[incident.level].id != incident.id:
            return False
        del self.open_incidents[incident.level]
        return True


@dataclass
class LevelState:
    breaches: int = 0
    healthy: int = 0
    breaching: list[Reading] = field(default_factory=list)
    open: bool = False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class IncidentTracker:
    """Consecutive-sample counting per level (in memory) over incidents shared in the IncidentStore."""

    def __init__(self, checklist: str, store: IncidentStore, config: WatchConfig,
                 clock: Callable[[], float] = time.time) -> None:
        self.checklist = checklist
        self.store = store
        self.config = config
        self.clock = clock
        self.levels: dict[AlertLevel, LevelState] = {level: LevelState() for level in LEVELS}
        self._escalated: set[str] = set()

    def pending(self) -> bool:
        """A breach or a recovery is under way: the next sample should come sooner (confirmation)."""
        return any((not s.open and 0 < s.breaches < self.config.consecutive)
                   or (s.open and 0 < s.healthy < self.config.recover_samples) for s in self.levels.values())

    async def observe(self, readings: Iterable[Reading], phase: str) -> list[AlertEvent]:
        """Count this sample's readings and return the events it causes (opened / escalated / resolved)."""
        readings = list(readings)
        open_now = await self.store.current()
        events: list[AlertEvent] = []
        now = self.clock()
        for level in LEVELS:
            state = self.levels[level]
            if state.open and level not in open_now:  # closed elsewhere (a rollback): count afresh
                state = self.levels[level] = LevelState()
            mine = [r for r in readings if r.level == level]
            breaching = [r for r in mine if r.state == "breach"]
            incident = open_now.get(level)
            # While an incident is open only the rules that raised it can hold it open when unreadable;
            # before one, any unreadable rule of the level keeps the breach count (unknown is not healthy).
            watched = [r for r in mine if r.rule in incident.rules] if incident is not None else mine
            if breaching:
                state.breaches += 1
                state.healthy = 0
                state.breaching = breaching
            elif any(r.state == "inconclusive" for r in watched):
                state.healthy = 0
            else:
                state.breaches = 0
                state.healthy += 1
            state.open = incident is not None
            if incident is None:
                if breaching and state.breaches >= self.config.consecutive:
                    event = await self._open(level, breaching, phase, now)
                    state.open = True
                    if event:
                        events.append(event)
            elif state.healthy >= self.config.recover_samples:
                state.open = False
                if await self.store.resolve(incident):
                    events.append(self._event(incident, "resolved",
                                              f"all clear after {_duration(now - incident.opened_at)}: "
                                              f"{state.healthy} healthy samples in a row (was: {incident.message})"))
            elif (state.healthy == 0 and now - incident.opened_at >= self.config.escalate_after_seconds
                    and incident.id not in self._escalated):
                escalated = await self.store.escalate(incident)
                self._escalated.add(incident.id)  # whoever escalated it, never again
                if escalated:
                    current = "; ".join(r.message for r in state.breaching) if breaching else incident.message
                    event = self._event(incident, "escalated",
                                        f"still failing after {_duration(now - incident.opened_at)}: {current}")
                    event.mention = self.config.escalate_mention
                    events.append(event)
        return events

    async def _open(self, level: AlertLevel, breaching: list[Reading], phase: str, now: float) -> AlertEvent | None:
        incident = Incident(id=f"{self.checklist}-{level}-{uuid.uuid4().hex[:10]}", checklist=self.checklist,
                            level=level, phase=phase, rules=[r.rule for r in breaching],
                            message="; ".join(r.message for r in breaching), opened_at=now,
                            value=breaching[0].value, threshold=breaching[0].threshold)
        if not await self.store.open(incident):
            return None  # another replica opened it first: it posts, we follow
        return self._event(incident, "opened", incident.message)

    def _event(self, incident: Incident, state: AlertState, message: str) -> AlertEvent:
        return AlertEvent(incident_id=incident.id, state=state, level=incident.level, rule=", ".join(incident.rules),
                          message=message, checklist=incident.checklist, phase=incident.phase,
                          value=_scalar(incident.value), threshold=_scalar(incident.threshold))


def _scalar(value: Any) -> float | str | None:
    if value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return str(value)
