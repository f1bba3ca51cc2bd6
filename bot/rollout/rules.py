"""Alert rules: the go-live plan's P0/P1/P2 levels, with thresholds from the current phase's criteria.

P0 — health failing, readiness not 200, DB/Redis down, 5xx error rate above the criteria;
P1 — DNS/WHOIS timeouts > 10 %, p95 > 2 s, task failures > 5 %, an enabled integration < 90 % success;
P2 — the phase's softer success criteria (p95 over target, cache hit rate low): logged, never posted.

Each rule turns a sample into a Reading: breach (with the value and the threshold it broke), ok, or
inconclusive (the value could not be read — never treated as healthy).

A rule that cannot be evaluated against the target at all (no source publishes its metric, the path is
missing from the metrics document, the Prometheus query returns nothing, the counter or histogram is not
on the target's /metrics page) is *blind*: `blind_rules` lists them so the watch can say so at its start
instead of staying silent. `optional: true` (or `watch.optional_rules`) marks a rule whose blindness is
expected. A rule the /metrics page can compute but not yet (a rate's first sample, no traffic) is
inconclusive in that sample, not blind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.announcements.events import AlertLevel
from bot.rollout.expressions import looks_like_expression
from bot.rollout.metrics import ProbeResult, Sample
from bot.rollout.models import ProbeSpec, RuleSpec, WatchConfig
from checks.jsonpath import OP_SYMBOL, compare, describe
from checks.kinds.flags import normalise_flag
from checks.spec import Criteria

ReadingState = Literal["breach", "ok", "inconclusive"]


@dataclass(frozen=True)
class Reading:
    rule: str
    level: AlertLevel
    state: ReadingState
    message: str = ""
    value: Any = None
    threshold: Any = None


def default_rules(c: Criteria) -> list[RuleSpec]:
    return [
        RuleSpec(id="db_down", level="P0", metric="db_status", op="ne", threshold="ok", label="DB status"),
        RuleSpec(id="redis_down", level="P0", metric="redis_status", op="ne", threshold="ok", label="Redis status"),
        RuleSpec(id="error_rate", level="P0", metric="error_rate", op="gt", threshold=c.error_rate_max,
                 label="5xx error rate", unit="%"),
        RuleSpec(id="latency_p95", level="P1", metric="latency_p95_ms", op="gt", threshold=c.p95_latency_ms_alert,
                 label="p95 latency", unit="ms"),
        RuleSpec(id="dns_timeouts", level="P1", metric="dns_timeout_rate", op="gt", threshold=c.timeout_rate_max,
                 label="DNS timeout rate", unit="%"),
        RuleSpec(id="whois_timeouts", level="P1", metric="whois_timeout_rate", op="gt",
                 threshold=c.timeout_rate_max, label="WHOIS timeout rate", unit="%"),
        RuleSpec(id="task_failures", level="P1", metric="task_failure_rate", op="gt",
                 threshold=c.task_failure_rate_max, label="task failure rate", unit="%"),
        RuleSpec(id="integration_success", level="P1", metric="integration_success_rate", op="lt",
                 threshold=c.integration_success_min, label="integration success rate", unit="%",
                 per_integration=True),
        RuleSpec(id="latency_target", level="P2", metric="latency_p95_ms", op="gt", threshold=c.p95_latency_ms_max,
                 label="p95 latency (target)", unit="ms"),
        RuleSpec(id="cache_hit_rate", level="P2", metric="cache_hit_rate", op="lt", threshold=c.cache_hit_rate_min,
                 label="cache hit rate", unit="%"),
    ]


def rules_for(config: WatchConfig, criteria: Criteria) -> list[RuleSpec]:
    """Defaults from the criteria, replaced/extended by `watch.rules`, minus `watch.disable_rules`;
    `watch.optional_rules` marks rules optional."""
    rules = {r.id: r for r in default_rules(criteria)}
    rules.update({r.id: r for r in config.rules})
    return [r.model_copy(update={"optional": True}) if r.id in config.optional_rules else r
            for r in rules.values() if r.id not in config.disable_rules]


@dataclass(frozen=True)
class BlindRule:
    """A rule the watch cannot evaluate against this target, and why."""

    rule: str
    level: AlertLevel
    metric: str
    why: str

    def line(self) -> str:
        return f"{self.level} {self.rule} ({self.metric}): {self.why}"


def blind_rules(sample: Sample, rules: list[RuleSpec], has_source: Callable[[str], bool] | None = None,
                ) -> list[BlindRule]:
    """The rules this sample could not evaluate (optional ones left out): the watch's blind spots."""
    blind = []
    for rule in rules:
        if rule.optional:
            continue
        if has_source is not None and not has_source(rule.metric):
            why = ("an expression is computed from the target's /metrics page: set watch.exposition (e.g. "
                   "{url: /metrics})" if looks_like_expression(rule.metric) else "no source publishes this metric "
                   "(set watch.metrics, watch.prometheus.queries or watch.exposition.queries)")
            blind.append(BlindRule(rule.id, rule.level, rule.metric, why))
            continue
        values = sample.metrics.get(rule.metric)
        if not values and rule.metric in sample.waiting:
            continue  # computable from /metrics, only not yet (a rate needs two samples): not blind
        if not values:
            blind.append(BlindRule(rule.id, rule.level, rule.metric,
                                   sample.unread.get(rule.metric, f"{rule.metric} was not read")))
        elif rule.op in ("gt", "ge", "lt", "le") and not any(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
            blind.append(BlindRule(rule.id, rule.level, rule.metric,
                                   f"{rule.metric} is {describe(next(iter(values.values())))}, not a number"))
    return blind


def integration_flags(config: WatchConfig, plan: Mapping[str, object], names: list[str]) -> dict[str, str]:
    """Which flag enables each integration: `watch.integrations`, else the one plan flag containing its name
    (partner_center → HUNTER_PARTNER_CENTER_ENABLED)."""
    found = dict(config.integrations)
    for name in names:
        if name in found:
            continue
        matches = [flag for flag in plan if name.upper().replace("-", "_") in flag.upper()]
        if len(matches) == 1:
            found[name] = matches[0]
    return found


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if unit == "%":
            return f"{value * 100:.1f}%"
        if unit == "ms":
            return f"{value:.0f} ms"
        return f"{value:g}"
    return describe(value)


def probe_reading(spec: ProbeSpec, result: ProbeResult) -> Reading:
    label = spec.label or spec.name
    rule = f"probe.{spec.name}"
    if result.status is None:
        return Reading(rule, spec.level, "breach", f"{label} probe {result.url} failed: {result.error}",
                       value=result.error, threshold=spec.expect_status)
    if result.status in spec.expect_status:
        return Reading(rule, spec.level, "ok", value=result.status)
    detail = ""
    if isinstance(result.body, Mapping):
        broken = [f"{k}: {v.get('status')}" + (f" ({v['error']})" if v.get("error") else "")
                  for k, v in result.body.items() if isinstance(v, Mapping) and v.get("status") not in (None, "ok")]
        detail = f" — {', '.join(broken)}" if broken else ""
    expected = "/".join(str(s) for s in spec.expect_status)
    return Reading(rule, spec.level, "breach", f"{label} {result.url} answered {result.status} "
                   f"(expected {expected}){detail}", value=result.status, threshold=spec.expect_status)


def metric_readings(rule: RuleSpec, sample: Sample, enabled: Mapping[str, bool] | None = None) -> list[Reading]:
    label = rule.label or rule.metric
    values = sample.metrics.get(rule.metric)
    if not values:
        why = sample.unread.get(rule.metric, f"{rule.metric} was not read")
        return [Reading(rule.id, rule.level, "inconclusive", f"{label}: {why}", threshold=rule.threshold)]
    readings = []
    for key, value in values.items():
        if rule.per_integration and enabled is not None and not enabled.get(key.split(".")[0], True):
            continue  # the plan keeps this integration off: its success rate is not a criterion
        name = f"{label} ({key})" if key else label
        try:
            broke = compare(value, rule.op, rule.threshold)
        except ValueError:
            broke = False
        if value is None or (rule.op in ("gt", "ge", "lt", "le") and not isinstance(value, int | float)):
            readings.append(Reading(rule.id, rule.level, "inconclusive", f"{name} is {describe(value)}, not a number",
                                    value=value, threshold=rule.threshold))
        elif broke:
            text = (f"{name} is {_fmt(value, rule.unit)} (expected {_fmt(rule.threshold, rule.unit)})"
                    if rule.op in ("ne", "eq") else
                    f"{name} {_fmt(value, rule.unit)} {OP_SYMBOL[rule.op]} {_fmt(rule.threshold, rule.unit)}")
            readings.append(Reading(rule.id, rule.level, "breach", text, value=value, threshold=rule.threshold))
        else:
            readings.append(Reading(rule.id, rule.level, "ok", value=value, threshold=rule.threshold))
    return readings


def evaluate(sample: Sample, config: WatchConfig, rules: list[RuleSpec], plan: Mapping[str, object],
             has_source: Callable[[str], bool] | None = None) -> list[Reading]:
    """Every reading of one sample; rules on metrics no source publishes are left out."""
    readings = [probe_reading(spec, sample.probes[spec.name]) for spec in config.probes if spec.name in sample.probes]
    integrations = sorted({key.split(".")[0] for key in sample.metrics.get("integration_success_rate", {})})
    flags = integration_flags(config, plan, integrations)
    enabled = {name: normalise_flag(plan.get(flag, False)) == "true" for name, flag in flags.items()}
    for rule in rules:
        if has_source is not None and not has_source(rule.metric):
            continue
        readings += metric_readings(rule, sample, enabled)
    return readings
