"""Text charts: a breach is visible (top bar, marker, count), a healthy line stays low, unreadable
samples show as gaps rather than as zero, and the timeline is in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.rollout.charts import BARS, GAP, Moment, Series, breached, chart_lines, sparkline, timeline


def test_a_breach_reaches_the_top_and_is_counted() -> None:
    p95 = Series("p95 latency", [120, 130, 125, 2400, 2600], threshold=2000, unit="ms")
    line = chart_lines([p95])[0]
    spark = sparkline(p95.values, threshold=2000)
    assert spark[-1] == BARS[-1] and spark[0] == BARS[0]
    assert "2600" in line and "(alert > 2000)" in line and "▲ 2 of 5 over" in line
    assert breached([p95])


def test_a_healthy_line_stays_below_the_threshold_and_says_nothing_about_breaches() -> None:
    errors = Series("5xx error rate", [0.1, 0.2, 0.1, 0.0], threshold=1.0, unit="%")
    line = chart_lines([errors])[0]
    assert "▲" not in line and not breached([errors])
    assert all(ch in BARS[:3] for ch in sparkline(errors.values, threshold=1.0))


def test_unreadable_samples_are_gaps_not_zero() -> None:
    assert sparkline([None, 5.0, None]) == f"{GAP}{BARS[-1]}{GAP}"
    assert sparkline([None, None]) == GAP * 2


def test_lower_is_bad_series_count_drops_under_the_threshold() -> None:
    success = Series("integration success", [99, 97, 80], threshold=90, unit="%", up_is_bad=False)
    assert "▼ 1 of 3 under" in chart_lines([success])[0]


def test_timeline_is_in_time_order_with_marks() -> None:
    t0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    text = timeline([Moment(t0 + timedelta(minutes=5), "rollback", "rollback to phase-1"),
                     Moment(t0, "promote", "promote phase-2 (alice)")])
    assert text.splitlines() == ["11-29 14:00 ▲ promote phase-2 (alice)", "11-29 14:05 ▼ rollback to phase-1"]
