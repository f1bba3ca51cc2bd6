"""`postgres.query` and `redis.*` talk to the real servers; a closed port fails fast, never hangs."""

from __future__ import annotations

import socket

from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner
from tests.conftest import PG_URL, REDIS_URL


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(checks: str, env: dict[str, str]):
    cl = parse_checklist("name: t\nphases:\n  - id: p\n    checks:\n" + checks, "t.yml")
    report = await Runner(cl, env=env).run(cl.all_checks())
    return {r.check_id: r for r in report.results}, report


CHECKS = """      - {id: db.connect, kind: postgres.query, criticality: critical, timeout: 5,
         params: {url: '${DATABASE_URL}'}}
      - {id: redis.ping, kind: redis.ping, criticality: critical, timeout: 3, params: {url: '${REDIS_URL}'}}
      - {id: redis.roundtrip, kind: redis.roundtrip, needs: [redis.ping], params: {url: '${REDIS_URL}'}}
"""


async def test_real_postgres_and_redis_pass() -> None:
    results, report = await run(CHECKS, {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL})
    assert results["db.connect"].status is Status.PASS, results["db.connect"].summary
    assert results["redis.ping"].status is Status.PASS and "PONG" in results["redis.ping"].summary
    assert results["redis.roundtrip"].status is Status.PASS
    assert report.verdict.go


async def test_redis_on_a_closed_port_fails_within_the_timeout_and_blocks_go() -> None:
    results, report = await run(CHECKS, {"DATABASE_URL": PG_URL,
                                         "REDIS_URL": f"redis://:Redis-Pw-77@127.0.0.1:{closed_port()}/0"})
    assert results["redis.ping"].status is Status.FAIL and "no PONG" in results["redis.ping"].summary
    assert results["redis.roundtrip"].status is Status.SKIP
    assert not report.verdict.go
    assert "Redis-Pw-77" not in report.verdict.model_dump_json() + results["redis.ping"].model_dump_json()


async def test_postgres_wrong_database_and_bad_query_fail_clearly_without_password() -> None:
    bad_db = PG_URL.replace("postgres@", "postgres:Pg-Pw-99@").rsplit("/", 1)[0] + "/no_such_db_golive"
    results, _ = await run("      - {id: d, kind: postgres.query, params: {url: '${U}'}}\n", {"U": bad_db})
    assert results["d"].status is Status.FAIL and "cannot connect" in results["d"].summary
    assert "Pg-Pw-99" not in results["d"].model_dump_json()
    results, _ = await run("      - {id: d, kind: postgres.query, params: {url: '${U}', query: 'SELECT nope'}}\n",
                           {"U": PG_URL})
    assert results["d"].status is Status.FAIL and "query failed" in results["d"].summary
