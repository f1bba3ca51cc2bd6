"""Fault-test fixtures: servers this test session owns (and may stop), never the shared ones."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bot.diagnostics.degradations import degradations
from tests.production.servers import PG_BIN, PostgresServer, RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def _pg_cluster() -> Iterator[PostgresServer]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    server = PostgresServer().init().start()
    yield server
    server.close()


@pytest.fixture
def pg_server(_pg_cluster: PostgresServer) -> Iterator[PostgresServer]:
    """The session's own PostgreSQL, running when the test starts (a previous test may have stopped it)."""
    import psycopg

    try:
        with psycopg.connect(_pg_cluster.url, connect_timeout=2):
            pass
    except psycopg.OperationalError:
        _pg_cluster.start()
    yield _pg_cluster


@pytest.fixture(autouse=True)
def _clean_degradations() -> Iterator[None]:
    degradations.clear()
    yield
    degradations.clear()
