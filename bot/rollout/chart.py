"""The watch's side of the chart: each sample reduced to a point and kept in the store, so every alert,
all-clear, `golive status` during a rollout and `golive watch` draw the same window (bot.rollout.charts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.rollout.charts import CHART_KEY, CHARTED, WINDOW, watch_chart
from bot.rollout.metrics import Sample
from bot.rollout.models import RuleSpec
from bot.store import Store

__all__ = ["point", "remember", "watch_chart"]


def _largest(values: dict[str, Any] | None) -> float | None:
    numbers = [v for v in (values or {}).values() if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(max(numbers)) if numbers else None


def _computed(sample: Sample, rules: Sequence[RuleSpec]) -> dict[str, dict[str, Any]]:
    """The series the watch computed from the target's /metrics (rates, ratios, quantiles) beyond the
    standing p95 and 5xx lines, each with the threshold of the first rule on it: {label: {value, …}}."""
    out: dict[str, dict[str, Any]] = {}
    for metric in sample.derived:
        if metric in CHARTED:
            continue
        rule = next((r for r in rules if r.metric == metric and r.op in ("gt", "ge", "lt", "le")
                     and isinstance(r.threshold, int | float) and not isinstance(r.threshold, bool)), None)
        unit = rule.unit if rule else ""
        scale = 100.0 if unit == "%" else 1.0
        value = _largest(sample.metrics.get(metric))
        out[(rule.label if rule and rule.label else "") or metric] = {
            "value": None if value is None else value * scale,
            "threshold": float(rule.threshold) * scale if rule else None,
            "unit": unit, "up_is_bad": rule is None or rule.op in ("gt", "ge")}
    return out


def point(sample: Sample, rules: Sequence[RuleSpec] = ()) -> dict[str, Any]:
    """One sample, reduced to what the chart draws (a metric the target does not publish stays None)."""
    ready = sample.probes.get("ready")
    error_rate = _largest(sample.metrics.get("error_rate"))
    computed = _computed(sample, rules)
    return {
        **({"computed": computed} if computed else {}),
        "at": sample.at.isoformat(),
        "p95_ms": _largest(sample.metrics.get("latency_p95_ms")),
        "error_pct": error_rate * 100 if error_rate is not None else None,
        "ready": None if ready is None else (1.0 if ready.status == 200 else 0.0),
        "ready_status": None if ready is None else (ready.status or 0),
    }


def remember(store: Store, checklist: str, sample: Sample, rules: Sequence[RuleSpec] = ()) -> list[dict[str, Any]]:
    """Add the sample to the stored window and return the window, oldest first."""
    key = CHART_KEY.format(checklist=checklist)
    points = [*(store.get(key) or []), point(sample, rules)][-WINDOW:]
    store.put(key, points)
    return points
