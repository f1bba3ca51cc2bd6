"""`postgres.query`: the target's database answers a query over a real connection (SELECT 1 by default)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from pydantic import Field

from checks.masking import redact_url
from checks.pgtools import first_line, libpq_url, pg_target
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome
from checks.timing import IN_LOOP


class PostgresParams(Params):
    url: str = Field(description="libpq/psycopg URL, usually ${DATABASE_URL}")
    query: str = "SELECT 1"
    expect: str | int | None = Field(1, description="expected first column of the first row; null to skip")
    connect_timeout: float = 5.0


@check_kind("postgres.query", PostgresParams)
async def check_postgres(ctx: CheckContext, p: PostgresParams) -> Outcome:
    """Connect to PostgreSQL and run one query."""
    shown = redact_url(p.url)
    started = time.perf_counter()
    try:
        conn = await psycopg.AsyncConnection.connect(libpq_url(p.url), connect_timeout=max(1, int(p.connect_timeout)),
                                                     autocommit=True)
    except psycopg.Error as exc:
        return Outcome.failed(f"cannot connect to {shown}: {first_line(exc)}", url=shown)
    try:
        async with conn:
            cur = await conn.execute(p.query)
            row = await cur.fetchone()
            version = conn.info.server_version
    except psycopg.Error as exc:
        return Outcome.failed(f"query failed on {shown}: {first_line(exc)}", url=shown, query=p.query)
    latency = round((time.perf_counter() - started) * 1000, 1)
    value = row[0] if row else None
    evidence: dict[str, Any] = {"url": shown, "query": p.query, "result": str(value), "latency_ms": latency,
                                "server_version": version}
    if p.expect is not None and str(value) != str(p.expect):
        return Outcome.failed(f"{p.query} returned {value}, expected {p.expect}", **evidence)
    timed = None
    if ctx.timer is not None:
        target = pg_target(p.url)
        # a SELECT is repeated (median of 3); any other statement is timed once, never run again
        repeat = 3 if p.query.lstrip().lower().startswith("select") else 1
        timed = await ctx.timer.sql(target.conninfo, target.password, p.query, timeout=p.connect_timeout,
                                    count=repeat)
    if timed is not None and timed.samples_ms:
        # The query on an open connection, timed by the timing process (checks.timing); connecting apart.
        evidence.update(timed.evidence(), latency_ms=timed.median_ms)
        connect = f" (connect {timed.connect_ms[0]:g} ms)" if timed.connect_ms else ""
        return Outcome.passed(f"connected to {shown}; {p.query} answered in {timed.median_ms:g} ms{connect}",
                              **evidence)
    evidence["latency_timed"] = IN_LOOP + " (connect and query)" + (
        f" (timing process: {timed.error})" if timed is not None else "")
    return Outcome.passed(f"connected to {shown} in {latency:g} ms", **evidence)
