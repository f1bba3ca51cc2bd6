"""`smoke.cache` passes only on a positive signal: a cache header, a hit counter that moves, a cache key
that appears. An endpoint without a cache is a warning (never a pass), even when its first answer is slower.

A small local service stands in for the target: each route is cached (or not) the way the test needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from bot.demo import DemoServer
from bot.serving.server import start_web_app
from checks.result import Status
from tests.checks.http_fixtures import run_one
from tests.checks.http_fixtures import target as target  # the fixture, re-exported for pytest
from tests.conftest import REDIS_URL


class CacheService:
    def __init__(self, redis_prefix: str) -> None:
        self.hits = 0
        self.stuck_hits = 7
        self.seen_slow = False
        self.redis_prefix = redis_prefix
        self.cache: set[str] = set()

    async def plain(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def slow_first(self, request: web.Request) -> web.Response:
        """Faster after the first call (like a warm-up), but nothing is cached: timing would lie."""
        if not self.seen_slow:
            self.seen_slow = True
            await asyncio.sleep(0.08)
        return web.json_response({"ok": True})

    async def counted(self, request: web.Request) -> web.Response:
        """A cache that says nothing in its headers, only in its metrics."""
        key = request.path_qs
        if key in self.cache:
            self.hits += 1
        self.cache.add(key)
        return web.json_response({"items": []})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.json_response({"cache": {"hits": self.hits, "stuck": self.stuck_hits}})

    async def in_redis(self, request: web.Request) -> web.Response:
        client = aioredis.Redis.from_url(REDIS_URL)
        await client.set(f"{self.redis_prefix}cache:{request.query_string}", "1", ex=60)
        await client.aclose()
        return web.json_response({"items": []})

    async def aged(self, request: web.Request) -> web.Response:
        return web.json_response({"items": []}, headers={"Age": "12"})

    async def status_header(self, request: web.Request) -> web.Response:
        return web.json_response({"items": []}, headers={"Cache-Status": "ExampleCache; hit; ttl=30"})

    async def always_miss(self, request: web.Request) -> web.Response:
        return web.json_response({"items": []}, headers={"X-Cache": "MISS"})


@pytest.fixture
async def cache_service(redis_prefix: str) -> AsyncIterator[tuple[CacheService, str]]:
    service = CacheService(redis_prefix)
    app = web.Application()
    for path, handler in (("/plain", service.plain), ("/slow-first", service.slow_first),
                          ("/counted", service.counted), ("/metrics", service.metrics),
                          ("/in-redis", service.in_redis), ("/aged", service.aged),
                          ("/status-header", service.status_header), ("/miss", service.always_miss)):
        app.router.add_get(path, handler)
    runner, port = await start_web_app(app)
    yield service, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def cache_check(url: str, extra: str = "") -> str:
    return f'- {{id: smoke.cache, kind: smoke.cache, params: {{url: "{url}"{extra}}}}}'


async def test_no_cache_is_a_warning_even_when_the_first_answer_is_slower(
        cache_service: tuple[CacheService, str]) -> None:
    _, url = cache_service
    result = await run_one(url, cache_check("/slow-first"))
    assert result.status is Status.WARN, result.summary
    assert result.summary.startswith("inconclusive: no cache signal")
    assert result.evidence["speedup"] > 1.2  # the timing looked like a cache: it is still not a pass
    plain = await run_one(url, cache_check("/plain"))
    assert plain.status is Status.WARN and "first " in plain.summary and "fastest repeat" in plain.summary


async def test_the_demo_liveness_probe_has_no_cache_and_is_never_a_pass(target: DemoServer) -> None:
    result = await run_one(target.base_url, cache_check("/healthz/live"))
    assert result.status is Status.WARN, result.summary
    assert "inconclusive: no cache signal" in result.summary


async def test_a_hit_counter_that_moves_passes_and_one_that_does_not_fails(
        cache_service: tuple[CacheService, str]) -> None:
    service, url = cache_service
    assert service.hits == 0
    result = await run_one(url, cache_check("/counted", ", metrics: {url: /metrics, path: cache.hits}"))
    assert result.status is Status.PASS, result.summary
    assert "cache.hits rose 0 → 3" in result.summary
    assert result.evidence["metrics"] == {"path": "cache.hits", "before": 0, "after": 3}

    stuck = await run_one(url, cache_check("/plain", ", metrics: {url: /metrics, path: cache.stuck}"))
    assert stuck.status is Status.FAIL and "cache.stuck did not move (7 → 7)" in stuck.summary

    missing = await run_one(url, cache_check("/plain", ", metrics: {url: /metrics, path: cache.nothing}"))
    assert missing.status is Status.ERROR and "no number at cache.nothing" in missing.summary


async def test_a_redis_key_that_appears_passes(cache_service: tuple[CacheService, str], redis_prefix: str) -> None:
    _, url = cache_service
    params = f', cache_bust: true, redis: {{url: "{REDIS_URL}", pattern: "{redis_prefix}cache:*"}}'
    result = await run_one(url, cache_check("/in-redis", params))
    assert result.status is Status.PASS, result.summary
    assert result.evidence["redis"]["before"] == 0 and len(result.evidence["redis"]["new"]) == 1

    nothing = f', redis: {{url: "{REDIS_URL}", pattern: "{redis_prefix}other:*"}}'
    result = await run_one(url, cache_check("/plain", nothing))
    assert result.status is Status.FAIL and f"no key matching {redis_prefix}other:*" in result.summary


async def test_age_and_cache_status_headers_pass_and_a_constant_miss_fails(
        cache_service: tuple[CacheService, str]) -> None:
    _, url = cache_service
    aged = await run_one(url, cache_check("/aged"))
    assert aged.status is Status.PASS and "age: 12" in aged.summary
    rfc = await run_one(url, cache_check("/status-header"))
    assert rfc.status is Status.PASS, rfc.summary
    miss = await run_one(url, cache_check("/miss"))
    assert miss.status is Status.FAIL and "every repeat says it missed the cache (x-cache: MISS)" in miss.summary
