"""The maths behind rules on a target's own /metrics, without a Prometheus server: counter increases and
rates with a reset, error ratios by a status label, and p50/p95/p99 from histogram buckets over the delta
between two samples. Every expected value is worked out here from the bucket definitions and counts,
never by calling the code under test."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from bot.rollout.counter_math import histogram_quantile, increase
from bot.rollout.exposition import ExpositionReader, ExpositionSpec, Outcome
from bot.rollout.expressions import parse_expression
from bot.rollout.metrics import Sample
from bot.rollout.models import RuleSpec, WatchConfig
from bot.rollout.rules import blind_rules

PAGE = "http://target/metrics"
REQUEST_RULE = {"id": "no_traffic", "level": "P1", "metric": "rate(http_requests_total)", "op": "lt", "threshold": 1}


def reader(**queries: str) -> ExpositionReader:
    return ExpositionReader(ExpositionSpec(queries=queries))


def counter_page(values: dict[str, float], *, label: str = "status", name: str = "http_requests_total") -> bytes:
    lines = ["# HELP http_requests_total requests", f"# TYPE {name} counter"]
    lines += [f'{name}{{method="GET",{label}="{status}"}} {value}' for status, value in values.items()]
    return ("\n".join(lines) + "\n").encode()


def read(r: ExpositionReader, page: bytes, at: float) -> dict[str, Outcome]:
    return r.read(page, at, PAGE)


# -- counters ---------------------------------------------------------------------------------------

def test_increase_counts_a_reset_from_zero_like_prometheus_rate() -> None:
    assert increase(10.0, 25.0) == 15.0
    assert increase(40.0, 6.0) == 6.0  # fell: restarted, and counted 6 since
    assert increase(None, 3.0) == 3.0  # a series created since the last sample
    assert increase(7.0, 7.0) == 0.0


def test_rate_is_the_increase_per_second_between_two_samples_and_survives_a_reset() -> None:
    r = reader(rps="rate(http_requests_total)")
    first = read(r, counter_page({"200": 100, "500": 4}), at=1000.0)
    assert first["rps"] == Outcome(None, f"rate(http_requests_total): needs two samples; this is the first read "
                                         f"of {PAGE}", evaluable=True)
    second = read(r, counter_page({"200": 160, "500": 4}), at=1030.0)
    assert second["rps"].value == pytest.approx((160 - 100) / 30)
    # the process restarted: 200 fell from 160 to 12, 500 from 4 to 1 -> 12 + 1 requests since the reset
    third = read(r, counter_page({"200": 12, "500": 1}), at=1060.0)
    assert third["rps"].value == pytest.approx((12 + 1) / 30)


def test_a_label_matcher_picks_series_and_a_series_new_since_the_last_sample_counts_from_zero() -> None:
    r = reader(errors='increase(http_requests_total{status=~"5.."})', gets='rate(http_requests_total{method="GET"})')
    read(r, counter_page({"200": 50}), at=0.0)
    out = read(r, counter_page({"200": 70, "500": 3, "503": 2}), at=10.0)
    assert out["errors"].value == 3 + 2
    assert out["gets"].value == pytest.approx((20 + 3 + 2) / 10)


def test_ratio_of_two_counters_between_two_samples() -> None:
    r = reader(error_rate='ratio(http_requests_total{status=~"5.."}, http_requests_total)')
    read(r, counter_page({"200": 900, "404": 50, "500": 50}), at=0.0)
    out = read(r, counter_page({"200": 1080, "404": 60, "500": 110}), at=15.0)
    assert out["error_rate"].value == pytest.approx(60 / (180 + 10 + 60))


def test_error_ratio_by_a_configurable_status_label_and_with_a_reset() -> None:
    spec = ExpositionSpec(queries={"error_rate": "error_ratio(http_requests_total)"}, status_labels=["code"],
                          error_status="5..|429")
    r = ExpositionReader(spec)
    read(r, counter_page({"200": 40, "429": 2, "502": 1}, label="code"), at=0.0)
    out = read(r, counter_page({"200": 70, "429": 5, "502": 3}, label="code"), at=30.0)
    assert out["error_rate"].value == pytest.approx((3 + 2) / (30 + 3 + 2))
    # reset: every series fell; the new values are the increases since the restart
    out = read(r, counter_page({"200": 8, "502": 2}, label="code"), at=60.0)
    assert out["error_rate"].value == pytest.approx(2 / (8 + 2))


def test_error_ratio_names_the_labels_it_looked_for_and_no_traffic_is_not_a_number() -> None:
    r = reader(error_rate="error_ratio(http_requests_total)")
    read(r, counter_page({"200": 1}, label="outcome"), at=0.0)
    out = read(r, counter_page({"200": 2}, label="outcome"), at=30.0)
    assert out["error_rate"].value is None and not out["error_rate"].evaluable
    assert "has none of the labels status, code, status_code (set watch.exposition.status_labels" \
        in out["error_rate"].why
    idle = reader(error_rate="error_ratio(http_requests_total)")
    read(idle, counter_page({"200": 5}), at=0.0)
    out = read(idle, counter_page({"200": 5}), at=30.0)
    assert out["error_rate"] == Outcome(None, "error_ratio(http_requests_total): no traffic: http_requests_total did "
                                              "not increase between the two samples", evaluable=True)


def test_missing_metrics_gauges_and_broken_pages_say_what_is_wrong() -> None:
    r = reader(rps="rate(http_requests_total)", lat="p95(http_request_duration_seconds)", g="rate(temperature)")
    page = counter_page({"200": 1}) + b"# TYPE temperature gauge\ntemperature 21.5\n"
    out = read(r, page, at=0.0)
    assert out["lat"] == Outcome(None, f"p95(http_request_duration_seconds): there is no histogram "
                                       f"http_request_duration_seconds (http_request_duration_seconds_bucket) in "
                                       f"{PAGE}")
    assert out["g"].why == "rate(temperature): temperature is a gauge; rates and ratios need a counter (name_total)"
    assert out["rps"].evaluable  # only waiting for a second sample
    broken = read(r, b"http_requests_total{status=200} 1\n", at=30.0)
    assert all(o.value is None and o.why.startswith(f"{PAGE} is not in the Prometheus text format: ")
               for o in broken.values())
    # a broken page does not replace the last good one: the next rate spans both intervals
    assert read(r, counter_page({"200": 61}), at=60.0)["rps"].value == pytest.approx(60 / 60)


def test_a_value_expression_reads_the_current_value_and_can_be_scaled() -> None:
    registry = CollectorRegistry()
    Gauge("queue_depth", "jobs waiting", ["queue"], registry=registry).labels("mail").set(7)
    out = read(reader(depth='queue_depth{queue="mail"} * 2'), generate_latest(registry), at=0.0)
    assert out["depth"].value == 14


# -- histograms -------------------------------------------------------------------------------------

# Cumulative bucket counts: 10 observations <= 0.1 s, 30 more in (0.1, 0.25], 40 in (0.25, 0.5],
# 18 in (0.5, 1], 2 in (1, 2.5], none above.
BUCKETS = {0.1: 10.0, 0.25: 40.0, 0.5: 80.0, 1.0: 98.0, 2.5: 100.0, math.inf: 100.0}


def test_quantiles_interpolate_linearly_inside_the_bucket_the_rank_falls_in() -> None:
    # p50: rank 50 of 100 lies in (0.25, 0.5], which holds observations 41..80: 10 of its 40 lie below the rank
    assert histogram_quantile(0.50, BUCKETS) == pytest.approx(0.25 + (0.5 - 0.25) * (50 - 40) / 40)
    # p95: rank 95 in (0.5, 1], observations 81..98: 15 of 18
    assert histogram_quantile(0.95, BUCKETS) == pytest.approx(0.5 + (1.0 - 0.5) * (95 - 80) / 18)
    # p99: rank 99 in (1, 2.5], observations 99..100: 1 of 2
    assert histogram_quantile(0.99, BUCKETS) == pytest.approx(1.0 + (2.5 - 1.0) * (99 - 98) / 2)
    # the lowest bucket starts at 0: rank 5 is halfway through its 10 observations
    assert histogram_quantile(0.05, BUCKETS) == pytest.approx(0.1 * 5 / 10)


def test_a_rank_in_the_inf_bucket_gives_the_highest_finite_bound_and_no_observations_give_none() -> None:
    assert histogram_quantile(0.99, {0.5: 90.0, 1.0: 95.0, math.inf: 100.0}) == 1.0
    assert histogram_quantile(0.5, {0.5: 0.0, math.inf: 0.0}) is None
    with pytest.raises(ValueError, match=r"no \+Inf bucket"):
        histogram_quantile(0.5, {0.5: 3.0})


def test_quantiles_from_a_real_histogram_count_only_what_happened_between_the_two_samples() -> None:
    registry = CollectorRegistry()
    bounds = (0.1, 0.25, 0.5, 1.0, 2.5)
    hist = Histogram("http_request_duration_seconds", "latency", buckets=bounds, registry=registry)
    r = reader(p50="p50(http_request_duration_seconds)", p95="p95(http_request_duration_seconds) * 1000",
               p99="p99(http_request_duration_seconds_bucket)")
    for _ in range(500):
        hist.observe(3.0)  # before the first sample: old slowness that must not count
    read(r, generate_latest(registry), at=0.0)
    # between the samples, per bucket: 10 in (0, 0.1], 30 in (0.1, 0.25], 40 in (0.25, 0.5], 18 in (0.5, 1],
    # 2 in (1, 2.5]: the cumulative counts of BUCKETS above
    for seconds, times in ((0.05, 10), (0.2, 30), (0.3, 40), (0.7, 18), (2.0, 2)):
        for _ in range(times):
            hist.observe(seconds)
    out = read(r, generate_latest(registry), at=30.0)
    assert out["p50"].value == pytest.approx(0.25 + 0.25 * 10 / 40)
    assert out["p95"].value == pytest.approx((0.5 + 0.5 * 15 / 18) * 1000)
    assert out["p99"].value == pytest.approx(1.0 + 1.5 * 1 / 2)
    quiet = read(r, generate_latest(registry), at=60.0)
    assert quiet["p95"] == Outcome(None, "p95(http_request_duration_seconds) * 1000: no observations of "
                                         "http_request_duration_seconds between the two samples", evaluable=True)


def test_histogram_buckets_are_summed_over_label_sets_and_a_reset_counts_from_zero() -> None:
    def page(a: dict[str, float], b: dict[str, float]) -> bytes:
        lines = ["# TYPE d_seconds histogram"]
        for route, buckets in (("a", a), ("b", b)):
            lines += [f'd_seconds_bucket{{route="{route}",le="{le}"}} {n}' for le, n in buckets.items()]
        return ("\n".join(lines) + "\n").encode()

    r = reader(p50="p50(d_seconds)", a='p50(d_seconds{route="a"})')
    read(r, page({"1": 10, "+Inf": 10}, {"1": 0, "+Inf": 0}), at=0.0)
    # route a restarted (10 -> 4, all fast); route b got 4 slow ones, above 1 s
    out = read(r, page({"1": 4, "+Inf": 4}, {"1": 0, "+Inf": 4}), at=30.0)
    assert out["a"].value == pytest.approx(1.0 * 2 / 4)  # rank 2 of 4, all in (0, 1]
    assert out["p50"].value == pytest.approx(1.0 * 4 / 4)  # rank 4 of 8: the last of the 4 fast ones


# -- the expression language ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ("rates(http_requests_total)", "unknown function rates()"),
    ("ratio(http_requests_total)", "ratio() takes 2 argument(s), got 1"),
    ('rate(http_requests_total{status~"5.."})', "label matcher 'status~\"5..\"' must look like"),
    ('rate(x{status=~"5(.."})', "bad regular expression"),
    ("p100(h)", "the percentile must be between 0 and 100"),
    ("p95(h) * fast", "not a function call or a metric name"),
])
def test_a_wrong_expression_is_refused_with_the_reason_and_an_example(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_expression(text)
    assert problem in str(caught.value) and "p95(http_request_duration_seconds) * 1000" in str(caught.value)


def test_a_wrong_expression_in_the_checklist_fails_at_load() -> None:
    with pytest.raises(ValueError, match=r"queries\.error_rate|error_rate: 'error_rat\(x\)': unknown function"):
        WatchConfig.model_validate({"exposition": {"queries": {"error_rate": "error_rat(x)"}}})


def test_real_prometheus_client_counters_are_read_by_their_sample_name() -> None:
    registry = CollectorRegistry()
    requests = Counter("http_requests", "requests", ["status"], registry=registry)
    r = reader(rps="rate(http_requests_total)", err="error_ratio(http_requests_total)")
    requests.labels("200").inc(5)
    read(r, generate_latest(registry), at=0.0)
    requests.labels("200").inc(9)
    requests.labels("500").inc(3)
    out = read(r, generate_latest(registry), at=6.0)
    assert out["rps"].value == pytest.approx((9 + 3) / 6)
    assert out["err"].value == pytest.approx(3 / 12)


def test_a_labelled_counter_nothing_has_touched_yet_is_there_with_no_samples() -> None:
    registry = CollectorRegistry()
    Counter("http_requests", "requests", ["status"], registry=registry)
    Histogram("d_seconds", "latency", ["route"], registry=registry)
    r = reader(rps="rate(http_requests_total)", err="error_ratio(http_requests_total)", p95="p95(d_seconds)",
               missing="rate(grpc_requests_total)")
    read(r, generate_latest(registry), at=0.0)
    out = read(r, generate_latest(registry), at=30.0)
    assert out["rps"].value == 0.0
    assert out["err"] == Outcome(None, "error_ratio(http_requests_total): no traffic: http_requests_total did not "
                                       "increase between the two samples", evaluable=True)
    assert out["p95"] == Outcome(None, "p95(d_seconds): d_seconds has no samples yet", evaluable=True)
    assert out["missing"] == Outcome(None, f"rate(grpc_requests_total): grpc_requests_total is not in {PAGE}")


def test_the_readme_example_is_a_valid_watch_and_every_expression_in_it_parses() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Metrics from the service's own /metrics"):]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    config = WatchConfig.model_validate(example["rollout"]["watch"])
    r = ExpositionReader(config.exposition or ExpositionSpec(), [rule.metric for rule in config.rules])
    assert r.broken == {} and len(r.expressions) == 4


def test_an_expression_rule_without_an_exposition_source_says_to_add_one() -> None:
    config = WatchConfig.model_validate({"rules": [REQUEST_RULE]})
    (blind,) = [b for b in blind_rules(Sample(), [RuleSpec.model_validate(REQUEST_RULE)], lambda m: False)]
    assert blind.why == ("an expression is computed from the target's /metrics page: set watch.exposition "
                         "(e.g. {url: /metrics})")
    assert config.exposition is None


def test_a_page_that_says_it_is_openmetrics_is_read_with_the_openmetrics_parser() -> None:
    registry = CollectorRegistry()
    requests = Counter("http_requests", "requests", ["status"], registry=registry)
    r = reader(err="error_ratio(http_requests_total)")
    kind = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    r.read(openmetrics_latest(registry), 0.0, PAGE, kind)
    requests.labels("200").inc(3)
    requests.labels("503").inc(1)
    assert r.read(openmetrics_latest(registry), 30.0, PAGE, kind)["err"].value == pytest.approx(1 / 4)
    broken = r.read(b"http_requests_total 1\n", 60.0, PAGE, kind)["err"]  # OpenMetrics must end with # EOF
    assert broken.why.startswith(f"{PAGE} is not in the OpenMetrics format: ")
