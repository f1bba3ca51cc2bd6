"""Metrics without a Prometheus server: the watch scrapes the target's own `/metrics` (the Prometheus
text exposition format, parsed by prometheus_client's parser) and computes rates, error ratios and
histogram quantiles itself, between the last two samples (bot.rollout.expressions says what it can
compute, bot.rollout.counter_math how).

The page is untrusted input like every answer of the target: it is read under the watch's size and time
caps, parsed off the event loop, and anything it lacks or gets wrong makes the metric unread, with the
reason, never a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.rollout.counter_math import histogram_quantile, increases
from bot.rollout.expressions import Expr, Selector, looks_like_expression, parse_expression
from checks.masking import mask

Labels = frozenset[tuple[str, str]]
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"


class ExpositionSpec(BaseModel):
    """`rollout.watch.exposition`: the target's own /metrics page as a metrics source."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field("/metrics", description="the page, relative to target.base_url or absolute; ${VAR} "
                     "reads the target's settings, as target.base_url does")
    url_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the target's setting "
                                "that holds the page's URL (e.g. METRICS_URL), instead of url")
    headers: dict[str, str] = Field(default_factory=dict)
    queries: dict[str, str] = Field(default_factory=dict, description="metric name -> expression, e.g. "
                                    "error_rate: error_ratio(http_requests_total)")
    status_labels: list[str] = Field(default_factory=lambda: ["status", "code", "status_code"], min_length=1,
                                     description="error_ratio(): the first of these labels a series has is "
                                     "its HTTP status")
    error_status: str = Field("5..", description="error_ratio(): statuses (a regular expression matching "
                              "the whole label value) that count as errors")

    @field_validator("queries")
    @classmethod
    def _expressions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            try:
                parse_expression(text)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @field_validator("error_status")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc}); e.g. 5.. or 5..|429") from None
        return value


@dataclass(frozen=True)
class Scrape:
    """One read of the page: every sample by its name (http_requests_total, …_bucket), keyed by labels."""

    at: float
    series: dict[str, dict[Labels, float]]
    types: dict[str, str]  # sample name -> the type of its family (counter, gauge, histogram, untyped, …)


# The sample names a family of each type declares, present even before it has a sample: prometheus_client
# prints only HELP and TYPE for a labelled counter no request has touched yet.
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
             "gaugehistogram": ("_bucket", "_gcount", "_gsum"), "summary": ("", "_count", "_sum")}


def parse_scrape(text: str, at: float, wanted: frozenset[str] | None = None, *, openmetrics: bool = False) -> Scrape:
    """The page parsed by prometheus_client (the OpenMetrics parser when the page says it is OpenMetrics);
    ValueError when it is not in that format. With `wanted`, only those sample names are kept (the whole
    page is still parsed, so a broken page is noticed): the previous scrape then holds what the
    expressions need, not the whole page."""
    series: dict[str, dict[Labels, float]] = {}
    types: dict[str, str] = {}
    # imported here: the parser (and prometheus_client's HTTP server beside it) costs ~50 ms that every
    # `golive` command loading a checklist would pay, while only the watch reads a page
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
    from prometheus_client.parser import text_string_to_metric_families

    parse = openmetrics_families if openmetrics else text_string_to_metric_families
    try:
        for family in parse(text):
            for suffix in _SUFFIXES.get(family.type, ("",)):
                series.setdefault(family.name + suffix, {})
                types.setdefault(family.name + suffix, family.type)
            for sample in family.samples:
                types.setdefault(sample.name, family.type)
                if wanted is not None and sample.name not in wanted:
                    series.setdefault(sample.name, {})
                    continue
                series.setdefault(sample.name, {})[frozenset(sample.labels.items())] = float(sample.value)
    except Exception as exc:  # the page is the target's: whatever the parser trips on, the sample goes on
        raise ValueError(mask(str(exc)[:200]) or type(exc).__name__) from None
    return Scrape(at, series, types)


@dataclass(frozen=True)
class Outcome:
    """One expression over the last two scrapes: a value, or why there is none. `evaluable` says the
    source can compute it and only this sample has none (the first sample, no traffic): not a blind rule."""

    value: float | None
    why: str = ""
    evaluable: bool = False


class _Unread(Exception):
    def __init__(self, why: str, evaluable: bool = False) -> None:
        super().__init__(why)
        self.why, self.evaluable = why, evaluable


_COUNTER_TYPES = ("counter", "untyped", "unknown")


class Evaluator:
    """The expressions of one source against two scrapes; `where` names the page in messages."""

    def __init__(self, spec: ExpositionSpec, where: str) -> None:
        self.spec = spec
        self.where = where

    def outcome(self, expr: Expr, before: Scrape | None, now: Scrape) -> Outcome:
        try:
            value = self._value(expr, before, now) * expr.scale
        except _Unread as exc:
            return Outcome(None, f"{expr.text}: {exc.why}", exc.evaluable)
        if not math.isfinite(value):
            return Outcome(None, f"{expr.text} is {value} (the page has a non-finite sample)")
        return Outcome(value)

    def _series(self, name: str, now: Scrape, allowed: tuple[str, ...], what: str) -> None:
        if name not in now.series:
            raise _Unread(f"{name} is not in {self.where}")
        kind = now.types.get(name, "untyped")
        if kind not in allowed:
            raise _Unread(f"{name} is a {kind}; {what}")

    def _counter(self, sel: Selector, now: Scrape) -> None:
        allowed = _COUNTER_TYPES + (("histogram", "summary", "gaugehistogram")
                                    if sel.name.endswith(("_count", "_sum")) else ())
        self._series(sel.name, now, allowed, "rates and ratios need a counter (name_total)")

    @staticmethod
    def _pick(sel: Selector, scrape: Scrape | None, name: str | None = None) -> dict[Labels, float]:
        if scrape is None:
            return {}
        return {labels: v for labels, v in scrape.series.get(name or sel.name, {}).items() if sel.matches(dict(labels))}

    def _increase(self, sel: Selector, before: Scrape, now: Scrape, name: str | None = None) -> float:
        return sum(increases(self._pick(sel, before, name), self._pick(sel, now, name)).values())

    def _interval(self, expr: Expr, before: Scrape | None, now: Scrape) -> tuple[Scrape, float]:
        if before is None:
            raise _Unread(f"needs two samples; this is the first read of {self.where}", evaluable=True)
        elapsed = now.at - before.at
        if elapsed <= 0:
            raise _Unread("needs two samples taken at different times", evaluable=True)
        return before, elapsed

    def _value(self, expr: Expr, before: Scrape | None, now: Scrape) -> float:
        if expr.func == "value":
            (sel,) = expr.selectors
            self._series(sel.name, now, ("counter", "gauge", "untyped", "unknown", "histogram", "summary"),
                         "a plain name reads a counter's or a gauge's value")
            picked = self._pick(sel, now)
            if not picked:
                raise _Unread(f"{sel} has no samples yet", evaluable=True)
            return sum(picked.values())
        if expr.func == "quantile":
            return self._quantile(expr, before, now)
        for sel in expr.selectors:
            self._counter(sel, now)
        prev, elapsed = self._interval(expr, before, now)
        if expr.func == "rate":
            return self._increase(expr.selectors[0], prev, now) / elapsed
        if expr.func == "increase":
            return self._increase(expr.selectors[0], prev, now)
        if expr.func == "ratio":
            part, whole = (self._increase(sel, prev, now) for sel in expr.selectors)
            if whole <= 0:
                raise _Unread(f"no traffic: {expr.selectors[1]} did not increase between the two samples",
                              evaluable=True)
            return part / whole
        return self._error_ratio(expr.selectors[0], prev, now)

    def _error_ratio(self, sel: Selector, before: Scrape, now: Scrape) -> float:
        grown = increases(self._pick(sel, before), self._pick(sel, now))
        errors = re.compile(self.spec.error_status)
        labelled = False
        part = whole = 0.0
        for labels, amount in grown.items():
            named = dict(labels)
            status = next((named[label] for label in self.spec.status_labels if label in named), None)
            labelled = labelled or status is not None
            whole += amount
            if status is not None and errors.fullmatch(status):
                part += amount
        if grown and not labelled:
            raise _Unread(f"{sel.name} has none of the labels {', '.join(self.spec.status_labels)} "
                          "(set watch.exposition.status_labels to the label holding the HTTP status)")
        if whole <= 0:
            raise _Unread(f"no traffic: {sel} did not increase between the two samples", evaluable=True)
        return part / whole

    def _quantile(self, expr: Expr, before: Scrape | None, now: Scrape) -> float:
        (sel,) = expr.selectors
        base = sel.name.removesuffix("_bucket")
        name = base + "_bucket"
        if name not in now.series:
            raise _Unread(f"there is no histogram {base} ({name}) in {self.where}")
        kind = now.types.get(name, "untyped")
        if kind not in ("histogram", "gaugehistogram", "untyped", "unknown"):
            raise _Unread(f"{base} is a {kind}; quantiles need a histogram")
        prev, _ = self._interval(expr, before, now)
        buckets: dict[float, float] = {}
        grown = increases(self._pick(sel, prev, name), self._pick(sel, now, name))
        for labels, amount in grown.items():
            le = dict(labels).get("le")
            try:
                bound = float(le) if le is not None else None
            except ValueError:
                bound = None
            if bound is None:
                raise _Unread(f"{name} has a series without a numeric le label")
            buckets[bound] = buckets.get(bound, 0.0) + amount
        if not buckets:
            raise _Unread(f"{sel} has no samples yet", evaluable=True)
        assert expr.quantile is not None
        try:
            value = histogram_quantile(expr.quantile, buckets)
        except ValueError as exc:
            raise _Unread(f"{base}: {exc}") from None
        if value is None:
            raise _Unread(f"no observations of {base} between the two samples", evaluable=True)
        return value


class ExpositionReader:
    """The state of one source across samples: its expressions (named queries and rules whose metric is an
    expression) and the previous scrape, which every rate and quantile is computed against."""

    def __init__(self, spec: ExpositionSpec, rule_metrics: Iterable[str] = ()) -> None:
        self.spec = spec
        self.expressions: dict[str, Expr] = {name: parse_expression(text) for name, text in spec.queries.items()}
        self.broken: dict[str, str] = {}
        for metric in rule_metrics:
            if metric in self.expressions or not looks_like_expression(metric):
                continue
            try:
                self.expressions[metric] = parse_expression(metric)
            except ValueError as exc:
                self.broken[metric] = str(exc)
        self.previous: Scrape | None = None
        self.wanted = frozenset(name for expr in self.expressions.values() for sel in expr.selectors
                                for name in (sel.name, sel.name.removesuffix("_bucket") + "_bucket"))

    def publishes(self, metric: str) -> bool:
        return metric in self.expressions or metric in self.broken

    def unreadable(self, why: str) -> dict[str, Outcome]:
        """Every metric unread for one reason (the page could not be read)."""
        return {**{name: Outcome(None, why) for name in self.expressions}, **self._broken()}

    def _broken(self) -> dict[str, Outcome]:
        return {name: Outcome(None, why) for name, why in self.broken.items()}

    def read(self, body: bytes, at: float, where: str, content_type: str = "") -> dict[str, Outcome]:
        """Parse one page read at `at` (seconds, the watch's clock) and evaluate every expression against the
        previous one. CPU-bound on a large page: call it off the event loop."""
        openmetrics = content_type.strip().lower().startswith("application/openmetrics-text")
        try:
            scrape = parse_scrape(body.decode("utf-8", errors="replace"), at, self.wanted, openmetrics=openmetrics)
        except ValueError as exc:
            kind = "OpenMetrics" if openmetrics else "Prometheus text"
            return self.unreadable(f"{where} is not in the {kind} format: {exc}")
        evaluator = Evaluator(self.spec, where)
        outcomes = {name: evaluator.outcome(expr, self.previous, scrape) for name, expr in self.expressions.items()}
        self.previous = scrape
        return {**outcomes, **self._broken()}

