"""`smoke.rate_limit` and `smoke.cache`: the protections the go-live plan asks to see working.

Both judge behaviour over several requests rather than one answer: a burst must meet the rate
limiter, and a repeated request must be answered by the cache. A cache passes only on a positive
signal (a cache header, a hit counter that moves, a cache key that appears): a faster repeat alone
is often golive's own connection warm-up, so timing alone is a warning, never a pass.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator

from checks.jsonpath import MISSING, get_path
from checks.kinds.http import (
    Answer,
    body_cap_field,
    fetch,
    make_client,
    normalize_method,
    request_headers,
    show_statuses,
    show_url,
    status_list,
    unreachable,
)
from checks.masking import mask, redact_url
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status

if TYPE_CHECKING:  # imported where a request is sent: validating a checklist does not load httpx
    import httpx

CACHE_HEADERS = ("x-cache", "x-cache-status", "cf-cache-status", "cache-status", "age", "x-cache-hits")


def _histogram(counter: Counter[str]) -> dict[str, int]:
    """Statuses in order, transport failures last: {"200": 20, "429": 10, "error": 0}."""
    return dict(sorted(counter.items(), key=lambda kv: (not kv[0].isdigit(), kv[0])))


def _show_histogram(hist: dict[str, int]) -> str:
    return ", ".join(f"{status} x{count}" for status, count in hist.items())


class RateLimitParams(Params):
    url: str = Field(description="an endpoint behind the rate limiter, e.g. /api/v1/leads?limit=1")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    burst: int = Field(30, ge=1, le=2000, description="requests to send at most")
    concurrency: int = Field(10, ge=1, le=200)
    expect_status: int = Field(429, description="the status a limited request gets")
    stop_on_first: bool = Field(True, description="stop sending once a limited answer arrived")
    max_body_bytes: int = body_cap_field()

    _method = field_validator("method")(normalize_method)


@check_kind("smoke.rate_limit", RateLimitParams)
async def check_rate_limit(ctx: CheckContext, p: RateLimitParams) -> Outcome:
    """A burst of requests meets the rate limiter (at least one 429)."""
    url = ctx.url(p.url)
    headers = request_headers(ctx, url, p.headers)
    counts: Counter[str] = Counter()
    answers: list[Answer] = []
    limited_at: int | None = None
    retry_after: str | None = None
    next_index = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index, limited_at, retry_after
        while next_index < p.burst and not (p.stop_on_first and limited_at is not None):
            next_index += 1
            answer = await fetch(client, p.method, url, headers=headers)
            answers.append(answer)
            counts[str(answer.status) if answer.status is not None else "error"] += 1
            if answer.status == p.expect_status and limited_at is None:
                limited_at = len(answers)
                assert answer.response is not None
                retry_after = answer.response.headers.get("retry-after")

    async with make_client(ctx, max_connections=p.concurrency, max_body_bytes=p.max_body_bytes) as client:
        await asyncio.gather(*(worker(client) for _ in range(min(p.concurrency, p.burst))))

    hist = _histogram(counts)
    where = f"{p.method} {show_url(url, ctx)}"
    evidence: dict[str, Any] = {"url": url, "method": p.method, "sent": len(answers), "burst": p.burst,
                                "concurrency": p.concurrency, "statuses": hist}
    if limited_at is not None:
        evidence["first_limited_at"] = limited_at
        if retry_after is not None:
            evidence["retry_after"] = retry_after
        return Outcome.passed(
            f"rate limiting works: {p.expect_status} after {limited_at} of {len(answers)} requests "
            f"({_show_histogram(hist)}) — {where}", **evidence)
    if answers and all(a.response is None for a in answers):
        return unreachable(answers[0], ctx, sent=len(answers))
    errors = [a.error for a in answers if a.error]
    if errors:
        evidence["first_error"] = errors[0]
    failing = [a for a in answers if a.error or (a.status is not None and a.status >= 500)]
    if answers and len(failing) == len(answers):
        # Nothing was served, so nothing says whether a limiter exists: name the failure instead.
        first = next((a for a in answers if a.response is not None), answers[0])
        cause = f"HTTP {first.status}" if first.response is not None else str(first.error)
        body = first.excerpt(200) if first.response is not None else ""
        return Outcome.failed(
            f"every one of {len(answers)} requests failed ({_show_histogram(hist)}), so rate limiting could not "
            f"be judged: {cause}{': ' + body if body else ''} — {where}", **evidence)
    return Outcome.failed(
        f"no {p.expect_status} in {len(answers)} requests ({_show_histogram(hist)}): rate limiting is not "
        f"active at this rate — {where}", **evidence)


class CacheMetrics(Params):
    """A cache counter the service publishes: it must go up while golive repeats the request."""

    url: str = Field("/healthz/metrics", description="JSON metrics endpoint on the target (or absolute URL)")
    path: str = Field(description="dotted path to a hit counter, e.g. cache.hits")


class CacheRedis(Params):
    """Keys the service's cache writes: one matching `pattern` must appear during the check."""

    url: str = Field(description="redis:// URL of the service's cache, usually ${REDIS_URL}")
    pattern: str = Field(description="SCAN pattern of the cache's keys, e.g. cache:leads:*")
    connect_timeout: float = 3.0


class CacheParams(Params):
    url: str = Field(description="a cacheable endpoint, e.g. /api/v1/leads?limit=10")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    attempts: int = Field(3, ge=1, le=50, description="repeats after the first request")
    min_speedup: float = Field(1.2, gt=0, description="reported only: timing alone never proves a cache")
    expect_status: list[int] = Field(default_factory=lambda: [200])
    cache_bust: bool = Field(False, description="add a unique query parameter so the first request is a miss")
    metrics: CacheMetrics | None = Field(None, description="a hit counter that must increase")
    redis: CacheRedis | None = Field(None, description="a Redis key pattern that must appear")
    max_body_bytes: int = body_cap_field()

    _method = field_validator("method")(normalize_method)

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def cache_verdict(headers: httpx.Headers) -> bool | None:
    """True when a response says it came from a cache, False when it says it did not, None when silent.

    X-Cache / X-Cache-Status / CF-Cache-Status: HIT (STALE, REVALIDATED count as served from cache);
    Cache-Status (RFC 9211): a `hit` parameter; Age: present, so a cache stored it."""
    verdict: bool | None = None
    for name in ("x-cache", "x-cache-status", "cf-cache-status"):
        value = headers.get(name)
        if value:
            words = value.upper()
            if "HIT" in words or words.strip() in ("STALE", "REVALIDATED", "UPDATING"):
                return True
            verdict = False
    status = headers.get("cache-status")
    if status:
        params = {part.strip().split("=")[0].lower() for entry in status.split(",") for part in entry.split(";")[1:]}
        if "hit" in params:
            return True
        verdict = False
    age = headers.get("age")
    if age is not None and age.strip().isdigit():
        return True
    return verdict


async def _metric(ctx: CheckContext, client: httpx.AsyncClient, spec: CacheMetrics) -> tuple[float | None, str]:
    """(counter value, problem): the counter at `spec.path`, or why it could not be read."""
    url = ctx.url(spec.url)
    answer = await fetch(client, "GET", url, headers=request_headers(ctx, url))
    if answer.response is None:
        return None, f"metrics {show_url(url, ctx)}: {answer.error}"
    if answer.status != 200:
        return None, f"metrics {show_url(url, ctx)} answered {answer.status}"
    parsed, data = answer.json()
    value = get_path(data, spec.path) if parsed else MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"no number at {spec.path} in {show_url(url, ctx)}"
    return float(value), ""


class _RedisFailed(Exception):
    """A Redis error from the cache-key probe (redis is imported only when a check asks for that probe)."""


async def _redis_keys(spec: CacheRedis) -> set[bytes]:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    try:
        return await _scan(aioredis, spec)
    except RedisError as exc:
        raise _RedisFailed(str(exc)) from exc


async def _scan(aioredis: Any, spec: CacheRedis) -> set[bytes]:
    client = aioredis.Redis.from_url(spec.url, socket_connect_timeout=spec.connect_timeout,
                                     socket_timeout=spec.connect_timeout, retry_on_timeout=False)
    try:
        keys: set[bytes] = set()
        async for key in client.scan_iter(match=spec.pattern, count=500):
            keys.add(key)
            if len(keys) >= 10_000:
                break
        return keys
    finally:
        await client.aclose()


@check_kind("smoke.cache", CacheParams)
async def check_cache(ctx: CheckContext, p: CacheParams) -> Outcome:
    """The cache answers repeats, shown by a cache header, a hit counter or a cache key (timing alone is a warn)."""
    url = ctx.url(p.url)
    if p.cache_bust:
        url = _with_param(url, "_golive", secrets.token_hex(6))
    headers = request_headers(ctx, url, p.headers)
    where = f"{p.method} {show_url(url, ctx)}"
    evidence: dict[str, Any] = {"url": url}
    problems: list[str] = []
    async with make_client(ctx, max_connections=1, max_body_bytes=p.max_body_bytes) as side:
        before: float | None = None
        if p.metrics is not None:
            before, problem = await _metric(ctx, side, p.metrics)
            if problem:
                problems.append(problem)
        keys_before: set[bytes] | None = None
        if p.redis is not None:
            try:
                keys_before = await _redis_keys(p.redis)
            except (_RedisFailed, OSError, ValueError) as exc:
                problems.append(f"redis {redact_url(p.redis.url)}: {_redis_error(exc)}")
        answers: list[Answer] = []
        async with make_client(ctx, max_connections=1, max_body_bytes=p.max_body_bytes) as client:
            for _ in range(1 + p.attempts):
                answer = await fetch(client, p.method, url, headers=headers)
                if answer.response is None:
                    return unreachable(answer, ctx, attempt=len(answers) + 1)
                answers.append(answer)
                if answer.status not in p.expect_status:
                    return Outcome.failed(
                        f"HTTP {answer.status} on request {len(answers)}, expected "
                        f"{show_statuses(p.expect_status)} — {where}", url=url, status=answer.status,
                        body_excerpt=answer.excerpt())
        after: float | None = None
        if p.metrics is not None and before is not None:
            after, problem = await _metric(ctx, side, p.metrics)
            if problem:
                problems.append(problem)
    first, repeats = answers[0], answers[1:]
    fastest = min(a.latency_ms for a in repeats)
    speedup = first.latency_ms / max(fastest, 0.01)
    evidence.update({"first_ms": first.latency_ms, "repeat_ms": [a.latency_ms for a in repeats],
                     "fastest_repeat_ms": fastest, "speedup": round(speedup, 2)})
    timing = f"first {first.latency_ms:.0f} ms, fastest repeat {fastest:.0f} ms ({speedup:.1f}x)"
    cache_headers = {
        label: {h: a.response.headers[h] for h in CACHE_HEADERS if a.response and h in a.response.headers}
        for label, a in (("first", first), ("last", repeats[-1]))
    }
    if any(cache_headers.values()):
        evidence["cache_headers"] = cache_headers
    signals: list[str] = []
    against: list[str] = []
    verdicts = [cache_verdict(a.response.headers) for a in repeats if a.response is not None]
    if any(v is True for v in verdicts):
        shown = {k: v for k, v in cache_headers["last"].items()} or cache_headers["first"]
        signals.append("cache header " + ", ".join(f"{k}: {v}" for k, v in shown.items()))
    elif verdicts and all(v is False for v in verdicts):
        against.append("every repeat says it missed the cache (" +
                       ", ".join(f"{k}: {v}" for k, v in cache_headers["last"].items()) + ")")
    if before is not None and after is not None:
        evidence["metrics"] = {"path": p.metrics.path if p.metrics else "", "before": before, "after": after}
        if after > before:
            signals.append(f"{p.metrics.path if p.metrics else 'counter'} rose {before:g} → {after:g}")
        else:
            against.append(f"{p.metrics.path if p.metrics else 'counter'} did not move ({before:g} → {after:g})")
    if p.redis is not None and keys_before is not None:
        try:
            keys_after = await _redis_keys(p.redis)
        except (_RedisFailed, OSError, ValueError) as exc:
            problems.append(f"redis {redact_url(p.redis.url)}: {_redis_error(exc)}")
        else:
            new = keys_after - keys_before
            evidence["redis"] = {"pattern": p.redis.pattern, "before": len(keys_before), "after": len(keys_after),
                                 "new": sorted(k.decode(errors="replace") for k in new)[:10]}
            if new:
                signals.append(f"{len(new)} new key(s) matching {p.redis.pattern}")
            elif keys_after:
                against.append(f"no new key matching {p.redis.pattern} ({len(keys_after)} already there; "
                               "try cache_bust: true)")
            else:
                against.append(f"no key matching {p.redis.pattern}")
    if problems:
        evidence["problems"] = problems
    if signals:
        return Outcome.passed(f"cache works: {'; '.join(signals)} ({timing}) — {where}", **evidence)
    if against:
        return Outcome.failed(f"no cache hit: {'; '.join(against)} ({timing}) — {where}", **evidence)
    if problems:
        return Outcome(status=Status.ERROR, summary=f"cache evidence unreadable: {'; '.join(problems)} — {where}",
                       evidence=evidence)
    return Outcome.warned(
        f"inconclusive: no cache signal (no cache header, counter or key; {timing}); timing alone cannot tell a "
        f"cache from connection warm-up — add `metrics` or `redis` — {where}", **evidence)


def _redis_error(exc: BaseException) -> str:
    return mask(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
