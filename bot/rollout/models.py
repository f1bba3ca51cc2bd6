"""The rollout's plain data: the watch configuration (`rollout.watch` in the checklist), results of
promote/rollback, and the store/Redis key names every replica must agree on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.announcements.events import AlertLevel
from bot.rollout.exposition import ExpositionSpec
from bot.runs.status import ROLLOUT_PHASE_KEY
from checks.jsonpath import Op
from checks.spec import Checklist

LEVELS: tuple[AlertLevel, ...] = ("P0", "P1", "P2")
NO_PHASE = "none"
"""The phase name events carry when no rollout phase is active (rolled back before the first one)."""

PAUSED_KEY = "rollout:{checklist}:paused"
DEPLOYMENT_KEY = "deployment:{checklist}"
APPLIED_KEY = "rollout:{checklist}:flags"
"""What golive left in the flag service after its last change (bot.rollout.records.RolloutRecords.applied)."""
UNRESTORED_KEY = "rollout:{checklist}:unrestored"
"""A failed promotion's earlier flag state that could not be put back yet (the flag service went away)."""
BEFORE_KEY = "rollout:{checklist}:before:{phase}"
"""The flags' exact state (strategies included) just before a phase was promoted: what its rollback restores."""

# Where Hunter-shaped services publish their numbers; `watch.metrics` overrides any of these.
DEFAULT_METRIC_PATHS: dict[str, str] = {
    "error_rate": "error_rate",
    "latency_p95_ms": "latency_p95_ms",
    "cache_hit_rate": "cache.hit_rate",
    "integration_success_rate": "integrations.*.success_rate",
    "dns_timeout_rate": "timeouts.dns_rate",
    "whois_timeout_rate": "timeouts.whois_rate",
    "task_failure_rate": "tasks.failure_rate",
    "db_status": "db.status",
    "redis_status": "redis.status",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSpec(_Strict):
    """A health endpoint polled every sample; any status outside `expect_status` is a breach."""

    name: str
    url: str
    expect_status: list[int] = Field(default_factory=lambda: [200])
    level: AlertLevel = "P0"
    label: str = ""


class RuleSpec(_Strict):
    """An alert rule: it breaches when `<metric> <op> <threshold>` holds."""

    id: str
    level: AlertLevel
    metric: str
    op: Op
    threshold: Any = None
    label: str = ""
    unit: Literal["", "%", "ms"] = ""
    per_integration: bool = Field(False, description="apply only to integrations enabled in the current phase")
    optional: bool = Field(False, description="the target may not publish this metric: do not report the rule "
                           "as blind when it cannot be evaluated")


class PrometheusSpec(_Strict):
    """A Prometheus HTTP API as a second metrics source: metric name -> instant query."""

    url: str
    queries: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


def _default_probes() -> list[ProbeSpec]:
    return [ProbeSpec(name="live", url="/healthz/live", label="liveness"),
            ProbeSpec(name="ready", url="/healthz/ready", label="readiness")]


class WatchConfig(_Strict):
    """How the watch polls and when it speaks. Every interval is configurable so tests run sub-second."""

    interval_seconds: float = Field(30.0, gt=0)
    confirm_interval_seconds: float | None = Field(
        None, gt=0, description="sample again this soon after a first breach (default: interval / 4)")
    consecutive: int = Field(2, ge=1, description="breaching samples in a row before an alert")
    recover_after: int | None = Field(None, ge=1, description="healthy samples in a row before the all-clear")
    escalate_after_seconds: float = Field(600.0, gt=0)
    escalate_mention: str | None = None
    timeout_seconds: float = Field(5.0, gt=0)
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="read at most this much of each answer (probe, "
                                "metrics document, Prometheus); more makes that source unreadable")
    probes: list[ProbeSpec] = Field(default_factory=_default_probes)
    metrics_url: str | None = "/healthz/metrics"
    metrics: dict[str, str | None] = Field(default_factory=dict, description="metric name -> dotted path; "
                                           "null drops a default")
    integrations: dict[str, str] = Field(default_factory=dict, description="integration -> the flag that "
                                         "enables it (default: the plan's flag whose name contains it)")
    prometheus: PrometheusSpec | None = None
    exposition: ExpositionSpec | None = Field(None, description="the target's own /metrics (Prometheus text "
                                              "format): rates, ratios, quantiles computed by the watch")
    rules: list[RuleSpec] = Field(default_factory=list, description="extra rules, or replacements by id")
    optional_rules: list[str] = Field(default_factory=list, description="rule ids (defaults included) whose "
                                      "blindness is expected: never reported")
    disable_rules: list[str] = Field(default_factory=list)
    lease_seconds: float = Field(15.0, gt=0)
    incident_ttl_seconds: float = Field(7 * 86400.0, gt=0)

    @model_validator(mode="after")
    def _unique_probes(self) -> WatchConfig:
        names = [p.name for p in self.probes]
        if len(names) != len(set(names)):
            raise ValueError("watch.probes names must be unique")
        return self

    @property
    def confirm_interval(self) -> float:
        return min(self.interval_seconds, self.confirm_interval_seconds or self.interval_seconds / 4)

    @property
    def recover_samples(self) -> int:
        return self.recover_after or self.consecutive

    def metric_paths(self) -> dict[str, str]:
        merged: dict[str, str | None] = {**DEFAULT_METRIC_PATHS, **self.metrics}
        return {name: path for name, path in merged.items() if path}


def watch_config(checklist: Checklist, **overrides: Any) -> WatchConfig:
    """The checklist's `rollout.watch`, validated, with overrides (CLI flags, tests) on top."""
    raw = dict(checklist.rollout.watch) if checklist.rollout else {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return WatchConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{checklist.source_path}: rollout.watch.{where}: {err['msg']}") from None


class ApplySpec(_Strict):
    """`rollout.apply`: what makes the service pick up written flags (a restart, a reload), and how long
    the effective probe may take to agree afterwards."""

    command: str | list[str] | None = Field(None, description="run after writing flags, e.g. a restart")
    timeout_seconds: float = Field(120.0, gt=0, description="the command's own time limit")
    settle_seconds: float = Field(60.0, gt=0, description="poll rollout.effective this long for the new values")
    poll_interval_seconds: float = Field(1.0, gt=0)


def apply_spec(checklist: Checklist) -> ApplySpec:
    """The checklist's `rollout.apply`, validated (defaults when absent)."""
    raw = dict(checklist.rollout.apply or {}) if checklist.rollout else {}
    try:
        return ApplySpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{checklist.source_path}: rollout.apply.{where}: {err['msg']}") from None


@dataclass
class RolloutResult:
    """What promote / rollback / an alert button did; `ok` False carries the reasons."""

    ok: bool
    action: str
    phase: str | None
    previous_phase: str | None = None
    reasons: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    message: str = ""
    failed: bool = False  # tried and failed (the flag provider), as opposed to refused by the gate


def phase_key(checklist: str) -> str:
    return ROLLOUT_PHASE_KEY.format(checklist=checklist)
