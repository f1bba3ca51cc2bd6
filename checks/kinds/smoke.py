"""`smoke.rate_limit` and `smoke.cache`: the protections the go-live plan asks to see working.

Both judge behaviour over several requests rather than one answer: a burst must meet the rate
limiter, and a repeated request must come back measurably faster than the first.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import Field, field_validator

from checks.kinds.http import (
    Answer,
    fetch,
    make_client,
    normalize_method,
    request_headers,
    show_statuses,
    show_url,
    status_list,
    unreachable,
)
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome

CACHE_HEADERS = ("x-cache", "x-cache-status", "cf-cache-status", "age", "x-cache-hits")


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

    async with make_client(ctx, max_connections=p.concurrency) as client:
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
    return Outcome.failed(
        f"no {p.expect_status} in {len(answers)} requests ({_show_histogram(hist)}): rate limiting is not "
        f"active at this rate — {where}", **evidence)


class CacheParams(Params):
    url: str = Field(description="a cacheable endpoint, e.g. /api/v1/leads?limit=10")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    attempts: int = Field(3, ge=1, le=50, description="repeats after the first request")
    min_speedup: float = Field(1.2, gt=0, description="first latency / fastest repeat must reach this")
    expect_status: list[int] = Field(default_factory=lambda: [200])
    cache_bust: bool = Field(False, description="add a unique query parameter so the first request is a miss")

    _method = field_validator("method")(normalize_method)

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@check_kind("smoke.cache", CacheParams)
async def check_cache(ctx: CheckContext, p: CacheParams) -> Outcome:
    """A repeated request is answered faster than the first (the cache works)."""
    url = ctx.url(p.url)
    if p.cache_bust:
        url = _with_param(url, "_golive", secrets.token_hex(6))
    headers = request_headers(ctx, url, p.headers)
    where = f"{p.method} {show_url(url, ctx)}"
    answers: list[Answer] = []
    for _ in range(1 + p.attempts):
        # a fresh connection each time, so connection setup weighs the same on every request
        async with make_client(ctx, max_connections=1) as client:
            answer = await fetch(client, p.method, url, headers=headers)
        if answer.response is None:
            return unreachable(answer, ctx, attempt=len(answers) + 1)
        answers.append(answer)
        if answer.status not in p.expect_status:
            return Outcome.failed(
                f"HTTP {answer.status} on request {len(answers)}, expected {show_statuses(p.expect_status)} "
                f"— {where}", url=url, status=answer.status, body_excerpt=answer.excerpt())
    first, repeats = answers[0], answers[1:]
    fastest = min(a.latency_ms for a in repeats)
    speedup = first.latency_ms / max(fastest, 0.01)
    evidence: dict[str, Any] = {
        "url": url, "first_ms": first.latency_ms, "repeat_ms": [a.latency_ms for a in repeats],
        "fastest_repeat_ms": fastest, "speedup": round(speedup, 2), "min_speedup": p.min_speedup,
    }
    cache_headers = {
        label: {h: a.response.headers[h] for h in CACHE_HEADERS if a.response and h in a.response.headers}
        for label, a in (("first", first), ("last", repeats[-1]))
    }
    if any(cache_headers.values()):
        evidence["cache_headers"] = cache_headers
    timing = f"first {first.latency_ms:.0f} ms, fastest repeat {fastest:.0f} ms ({speedup:.1f}x)"
    if speedup >= p.min_speedup:
        return Outcome.passed(f"cache works: {timing} — {where}", **evidence)
    hint = "" if p.cache_bust else "; if the cache was already warm, set cache_bust: true"
    return Outcome.failed(f"no cache speedup: {timing}, needs {p.min_speedup:g}x{hint} — {where}", **evidence)
