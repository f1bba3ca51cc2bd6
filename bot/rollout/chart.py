"""The watch's side of the chart: each sample reduced to a point and kept in the store, so every alert,
all-clear, `golive status` during a rollout and `golive watch` draw the same window (bot.charts)."""

from __future__ import annotations

from typing import Any

from bot.charts import CHART_KEY, WINDOW, watch_chart
from bot.rollout.metrics import Sample
from bot.store import Store

__all__ = ["point", "remember", "watch_chart"]


def _largest(values: dict[str, Any] | None) -> float | None:
    numbers = [v for v in (values or {}).values() if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(max(numbers)) if numbers else None


def point(sample: Sample) -> dict[str, Any]:
    """One sample, reduced to what the chart draws (a metric the target does not publish stays None)."""
    ready = sample.probes.get("ready")
    error_rate = _largest(sample.metrics.get("error_rate"))
    return {
        "at": sample.at.isoformat(),
        "p95_ms": _largest(sample.metrics.get("latency_p95_ms")),
        "error_pct": error_rate * 100 if error_rate is not None else None,
        "ready": None if ready is None else (1.0 if ready.status == 200 else 0.0),
        "ready_status": None if ready is None else (ready.status or 0),
    }


def remember(store: Store, checklist: str, sample: Sample) -> list[dict[str, Any]]:
    """Add the sample to the stored window and return the window, oldest first."""
    key = CHART_KEY.format(checklist=checklist)
    points = [*(store.get(key) or []), point(sample)][-WINDOW:]
    store.put(key, points)
    return points
