"""Compact text charts for chat and terminals: a watched metric over the window as a Unicode sparkline,
with the breach threshold drawn, and a deployment timeline. Plain text works in every client (Slack,
Teams, a terminal, a CI log) and needs no image library; renderers put it in a monospace block.

    p95 latency ms   ▁▁▂▁▂▅▇█  2430 (alert > 2000)  ▲ 3 of 8 over
    5xx error rate % ▁▁▁▁▁▁▁▁  0.2 (alert > 1.0)
    readiness        ██████▁▁  503 now (2 of 8 down)

A sample above the threshold is drawn with the full block's neighbour `▲` marker underneath, so a
breach is visible even where the scale makes every bar tall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.spec import Criteria

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"  # a sample that could not be read


@dataclass(frozen=True)
class Series:
    """One watched metric over the window, oldest first. `threshold` is the alert line; `up_is_bad`
    says which side of it is a breach (True: above is bad, like latency)."""

    label: str
    values: Sequence[float | None]
    threshold: float | None = None
    unit: str = ""
    up_is_bad: bool = True
    legend: str = ""  # shown instead of "(alert > threshold)", e.g. for an up/down series
    breach_word: str = ""  # "not ready" instead of "over"/"under"

    def breaches(self) -> list[bool]:
        if self.threshold is None:
            return [False] * len(self.values)
        return [v is not None and (v > self.threshold if self.up_is_bad else v < self.threshold)
                for v in self.values]


def sparkline(values: Sequence[float | None], *, threshold: float | None = None) -> str:
    """One character per value; the scale runs from 0 (or the lowest value) to the highest value or the
    threshold, whichever is larger, so a flat healthy line stays low and a breach reaches the top."""
    known = [v for v in values if v is not None]
    if not known:
        return GAP * len(values)
    low = min(0.0, *known)
    high = max([*known, threshold] if threshold is not None else known)
    span = high - low or 1.0
    out = []
    for value in values:
        if value is None:
            out.append(GAP)
            continue
        index = round((value - low) / span * (len(BARS) - 1))
        out.append(BARS[max(0, min(len(BARS) - 1, index))])
    return "".join(out)


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"


def chart_lines(series: Iterable[Series]) -> list[str]:
    """One line per series: label, sparkline, latest value, the threshold, and how many samples broke it."""
    rows = []
    for s in series:
        latest = next((v for v in reversed(s.values) if v is not None), None)
        breaches = s.breaches()
        parts = [sparkline(s.values, threshold=s.threshold)]
        if latest is not None and not s.legend:
            parts.append(_number(latest))
        if s.legend:
            parts.append(f"({s.legend})")
        elif s.threshold is not None:
            parts.append(f"(alert {'>' if s.up_is_bad else '<'} {_number(s.threshold)})")
        if any(breaches):
            word = s.breach_word or ("over" if s.up_is_bad else "under")
            parts.append(f"{'▲' if s.up_is_bad else '▼'} {sum(breaches)} of {len(breaches)} {word}")
        label = f"{s.label} {s.unit}".strip()
        rows.append((label, "  ".join(parts)))
    width = max((len(label) for label, _ in rows), default=0)
    return [f"{label:<{width}}  {body}" for label, body in rows]


def chart_text(series: Iterable[Series]) -> str:
    return "\n".join(chart_lines(series))


def breached(series: Iterable[Series]) -> bool:
    return any(any(s.breaches()) for s in series)


@dataclass(frozen=True)
class Moment:
    """Something that happened during a deployment: a phase run, a promotion, an incident, a rollback."""

    at: datetime
    kind: str  # run | promote | incident | resolved | rollback | signoff
    text: str


_MARK = {"run": "●", "promote": "▲", "incident": "✖", "resolved": "✔", "rollback": "▼", "signoff": "✎"}


def timeline(moments: Iterable[Moment], *, limit: int = 20) -> str:
    """`14:02 ▲ promote phase-1 (alice)` lines, oldest first, the latest `limit` kept."""
    ordered = sorted(moments, key=lambda m: m.at)[-limit:]
    return "\n".join(f"{m.at:%m-%d %H:%M} {_MARK.get(m.kind, '•')} {m.text}" for m in ordered)


# -- the rollout watch's chart: p95 latency, 5xx error rate, readiness over the stored window ----------
CHART_KEY = "watch:{checklist}:chart"
WINDOW = 30  # samples kept (at the default 30 s interval, the last quarter of an hour)
CHARTED = ("error_rate", "latency_p95_ms")  # the metrics behind the standing 5xx and p95 lines


def stored_points(store: Any, checklist: str) -> list[dict[str, Any]]:
    return list(store.get(CHART_KEY.format(checklist=checklist)) or [])


def watch_series(points: list[dict[str, Any]], criteria: Criteria | None = None) -> list[Series]:
    c = criteria or Criteria()

    def values(key: str) -> list[float | None]:
        return [p.get(key) for p in points]

    out = [Series("p95 latency", values("p95_ms"), threshold=c.p95_latency_ms_alert, unit="ms"),
           Series("5xx error rate", values("error_pct"), threshold=c.error_rate_max * 100, unit="%")]
    if any(p.get("ready") is not None for p in points):
        out.append(Series("readiness", values("ready"), threshold=1.0, up_is_bad=False, legend="█ ready, ▁ not",
                          breach_word="not ready"))
    return out + computed_series(points)


def computed_series(points: list[dict[str, Any]]) -> list[Series]:
    """The series the watch computed from a target's /metrics page (bot.rollout.chart stores them under
    `computed`), in the order they first appear, with the latest threshold and unit."""
    labels: dict[str, dict[str, Any]] = {}
    for p in points:
        for label, info in (p.get("computed") or {}).items():
            labels[label] = info
    return [Series(label, [((p.get("computed") or {}).get(label) or {}).get("value") for p in points],
                   threshold=info.get("threshold"), unit=info.get("unit", ""), up_is_bad=info.get("up_is_bad", True))
            for label, info in labels.items()]


def watch_chart(points: list[dict[str, Any]], criteria: Criteria | None = None) -> str:
    """The chart as text ("" when nothing has been sampled yet)."""
    if not points:
        return ""
    first, last = points[0].get("at", "")[11:16], points[-1].get("at", "")[11:16]
    return f"last {len(points)} samples, {first} to {last} UTC\n" + chart_text(watch_series(points, criteria))
