"""`redis.ping` and `redis.roundtrip`: the target's Redis answers, and a value survives SET/GET/DEL."""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from pydantic import Field
from redis.exceptions import RedisError

from checks.masking import mask, redact_url
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome
from checks.timing import IN_LOOP


class RedisParams(Params):
    url: str = Field(description="redis:// or rediss:// URL, usually ${REDIS_URL}")
    connect_timeout: float = 3.0
    key_prefix: str = "golive:check:"


def _client(p: RedisParams) -> aioredis.Redis:
    return aioredis.Redis.from_url(p.url, socket_connect_timeout=p.connect_timeout,
                                   socket_timeout=p.connect_timeout, retry_on_timeout=False)


def _error(exc: BaseException) -> str:
    return mask(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


@check_kind("redis.ping", RedisParams)
async def check_ping(ctx: CheckContext, p: RedisParams) -> Outcome:
    """PING answers PONG."""
    shown = redact_url(p.url)
    started = time.perf_counter()
    client = _client(p)
    try:
        pong = await client.ping()
    except (RedisError, OSError, ValueError) as exc:
        return Outcome.failed(f"no PONG from {shown}: {_error(exc)}", url=shown)
    finally:
        await client.aclose()
    latency = round((time.perf_counter() - started) * 1000, 1)
    if pong is not True:
        return Outcome.failed(f"unexpected PING answer from {shown}: {pong!r}", url=shown)
    evidence: dict[str, Any] = {"url": shown}
    timed = await ctx.timer.redis_ping(p.url, timeout=p.connect_timeout) if ctx.timer is not None else None
    if timed is not None and timed.samples_ms:
        # PING round trips on an open connection, timed by the timing process (checks.timing); connecting apart
        latency = timed.median_ms
        evidence.update(timed.evidence(), ping_samples_ms=timed.samples_ms)
    else:
        evidence["latency_timed"] = IN_LOOP + " (connect and PING)" + (
            f" (timing process: {timed.error})" if timed is not None else "")
    return Outcome.passed(f"PONG from {shown} in {latency:g} ms", latency_ms=latency, **evidence)


@check_kind("redis.roundtrip", RedisParams, mutates=lambda params: True,
            writes=lambda params: f"SET/GET/DEL of one key {params.get('key_prefix') or 'golive:check:'}<random> "
                                  "(expires in 60 s; deleted at once)")
async def check_roundtrip(ctx: CheckContext, p: RedisParams) -> Outcome:
    """SET, GET and DEL of a unique key: the server accepts writes, not only PINGs."""
    shown = redact_url(p.url)
    key = f"{p.key_prefix}{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    started = time.perf_counter()
    client = _client(p)
    try:
        await client.set(key, value, ex=60)
        got = await client.get(key)
        deleted = await client.delete(key)
    except (RedisError, OSError, ValueError) as exc:
        return Outcome.failed(f"SET/GET/DEL failed on {shown}: {_error(exc)}", url=shown, key=key)
    finally:
        await client.aclose()
    latency = round((time.perf_counter() - started) * 1000, 1)
    evidence = {"url": shown, "key": key, "latency_ms": latency}
    if got is None or (got.decode() if isinstance(got, bytes) else got) != value:
        return Outcome.failed(f"GET returned {got!r} instead of the value just SET", **evidence)
    if deleted != 1:
        return Outcome.failed("DEL did not remove the test key", **evidence)
    return Outcome.passed(f"SET/GET/DEL round trip in {latency:g} ms", **evidence)
