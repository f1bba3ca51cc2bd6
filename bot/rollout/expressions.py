"""The small expression language of `watch.exposition`: what a watch computes from a target's own
`/metrics` between two samples. A subset of PromQL's look, without a Prometheus server:

    http_requests_in_flight                                   the current value (summed over series)
    rate(http_requests_total)                                 per second, between the last two samples
    increase(http_requests_total{method="POST"})              the growth between the last two samples
    ratio(http_requests_total{status=~"5.."}, http_requests_total)     increase of one over the other
    error_ratio(http_requests_total)                          5xx / all, by the configured status label
    p50(h) p90(h) p95(h) p99(h)                               a quantile of histogram `h` (its _bucket series)
    p95(http_request_duration_seconds) * 1000                 any of these, scaled (seconds -> ms)

Label matchers are PromQL's: `=`, `!=`, `=~`, `!~` (regular expressions match the whole value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

MatchOp = Literal["=", "!=", "=~", "!~"]
Func = Literal["value", "rate", "increase", "ratio", "error_ratio", "quantile"]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SELECTOR = re.compile(rf"\s*(?P<name>{_NAME})\s*(?:\{{(?P<matchers>[^{{}}]*)\}})?\s*")
_MATCHER = re.compile(r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*')
_CALL = re.compile(r"^\s*(?P<func>[a-z_0-9]+)\s*\((?P<args>.*)\)\s*(?:\*\s*(?P<scale>[0-9.eE+\-]+)\s*)?$", re.S)
_BARE = re.compile(rf"^(?P<selector>\s*{_NAME}\s*(?:\{{[^{{}}]*\}})?\s*)(?:\*\s*(?P<scale>[0-9.eE+\-]+)\s*)?$")
_QUANTILE = re.compile(r"^p(?P<pct>\d+(?:\.\d+)?)$")
_ARITY = {"rate": 1, "increase": 1, "ratio": 2, "error_ratio": 1}

SYNTAX_HINT = ('write e.g. rate(http_requests_total), ratio(http_requests_total{status=~"5.."}, '
               "http_requests_total), error_ratio(http_requests_total) or p95(http_request_duration_seconds) * 1000")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def __str__(self) -> str:
        return self.name + (f"{{{','.join(str(m) for m in self.matchers)}}}" if self.matchers else "")


@dataclass(frozen=True)
class Expr:
    func: Func
    selectors: tuple[Selector, ...]
    text: str
    quantile: float | None = None
    scale: float = 1.0

    @property
    def needs_two_samples(self) -> bool:
        return self.func != "value"


def looks_like_expression(text: str) -> bool:
    """Whether a rule's `metric` is an expression rather than a name a source publishes."""
    return "(" in text or "{" in text


def _selector(text: str) -> Selector:
    found = _SELECTOR.fullmatch(text)
    if not found:
        raise ValueError(f"{text.strip()!r} is not a metric name with optional {{label=\"value\"}} matchers")
    matchers: list[Matcher] = []
    body = (found["matchers"] or "").strip()
    if body:
        for part in _split(body, ","):
            m = _MATCHER.fullmatch(part)
            if not m:
                raise ValueError(f"label matcher {part.strip()!r} must look like status=~\"5..\"")
            value = m["value"].replace('\\"', '"').replace("\\\\", "\\")
            op = cast(MatchOp, m["op"])  # the regex allows only these four
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"label matcher {part.strip()!r}: bad regular expression ({exc})") from None
            matchers.append(Matcher(m["label"], op, value))
    return Selector(found["name"], tuple(matchers))


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes and braces."""
    parts, depth, quoted, current, escaped = [], 0, False, "", False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
            continue
        if ch == "\\" and quoted:
            current, escaped = current + ch, True
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        if ch == sep and not quoted and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _scale(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"'* {raw}' is not a number to scale by") from None


def parse_expression(text: str) -> Expr:
    """The expression, or ValueError saying what is wrong and how a valid one looks."""
    try:
        return _parse(text)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}; {SYNTAX_HINT}") from None


def _parse(text: str) -> Expr:
    if not text.strip():
        raise ValueError("empty expression")
    bare = _BARE.fullmatch(text)
    if bare:
        return Expr("value", (_selector(bare["selector"]),), text.strip(), scale=_scale(bare["scale"]))
    call = _CALL.fullmatch(text)
    if not call:
        raise ValueError("not a function call or a metric name")
    name, args, scale = call["func"], _split(call["args"], ","), _scale(call["scale"])
    quantile = _QUANTILE.fullmatch(name)
    if quantile:
        pct = float(quantile["pct"])
        if not 0 < pct < 100:
            raise ValueError(f"{name}: the percentile must be between 0 and 100")
        if len(args) != 1:
            raise ValueError(f"{name}() takes one histogram")
        return Expr("quantile", (_selector(args[0]),), text.strip(), quantile=pct / 100, scale=scale)
    if name not in _ARITY:
        raise ValueError(f"unknown function {name}() (known: {', '.join(_ARITY)}, p50/p90/p95/p99)")
    if len(args) != _ARITY[name]:
        raise ValueError(f"{name}() takes {_ARITY[name]} argument(s), got {len(args)}")
    func = cast(Func, name)  # checked against _ARITY's keys just above
    return Expr(func, tuple(_selector(a) for a in args), text.strip(), scale=scale)
