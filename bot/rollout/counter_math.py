"""The arithmetic Prometheus does on counters and histograms, for two samples a watch took itself: the
increase of a counter (a reset counts from zero, as `rate()` does), and a quantile from cumulative
histogram buckets (linear interpolation inside the bucket, as `histogram_quantile()` does).

Pure functions on numbers, so the maths is tested apart from HTTP and the exposition format.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

INF = math.inf


def increase(before: float | None, now: float) -> float:
    """How much a counter grew between two readings. A value that fell means the counter was reset (the
    process restarted): the new value is the increase since the reset. A series the first reading did
    not have (`before` None) was created since, so it counts from zero too."""
    if before is None or now < before:
        return now
    return now - before


def increases(before: Mapping[K, float], now: Mapping[K, float]) -> dict[K, float]:
    """`increase` per series (keyed by its labels); a series gone from the newer reading adds nothing."""
    return {key: increase(before.get(key), value) for key, value in now.items()}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile (0 <= q <= 1) of observations counted in cumulative buckets {upper bound `le`: count},
    which must include +Inf. None when there is no observation.

    As Prometheus: the rank q * total falls in the first bucket whose cumulative count reaches it; the
    value is interpolated linearly between that bucket's lower and upper bound (the lowest bucket starts
    at 0 unless its bound is negative); a rank in the +Inf bucket returns the highest finite bound.
    Counts that decrease with `le` (buckets read at slightly different moments) are raised to stay monotonic.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside 0..1")
    if INF not in buckets:
        raise ValueError("the histogram has no +Inf bucket")
    bounds = sorted(buckets)
    counts: list[float] = []
    for bound in bounds:
        counts.append(max(buckets[bound], counts[-1] if counts else 0.0))
    total = counts[-1]
    if total <= 0:
        return None
    if len(bounds) < 2:
        return None  # only +Inf: no finite bound to report
    rank = q * total
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if bounds[index] == INF:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    lower = 0.0 if index == 0 else bounds[index - 1]
    below = 0.0 if index == 0 else counts[index - 1]
    inside = counts[index] - below
    if inside <= 0:
        return bounds[index]
    return lower + (bounds[index] - lower) * (rank - below) / inside
