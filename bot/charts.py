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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
        if latest is not None:
            parts.append(_number(latest))
        if s.threshold is not None:
            parts.append(f"(alert {'>' if s.up_is_bad else '<'} {_number(s.threshold)})")
        if any(breaches):
            parts.append(f"▲ {sum(breaches)} of {len(breaches)} over" if s.up_is_bad
                         else f"▼ {sum(breaches)} of {len(breaches)} under")
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


@dataclass
class History:
    """The watched metrics sample by sample, kept short (the window a person wants to glance at)."""

    limit: int = 30
    points: list[dict[str, Any]] = field(default_factory=list)

    def add(self, point: dict[str, Any]) -> None:
        self.points.append(point)
        del self.points[:-self.limit]

    def values(self, key: str) -> list[float | None]:
        out: list[float | None] = []
        for point in self.points:
            value = point.get(key)
            out.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None)
        return out
