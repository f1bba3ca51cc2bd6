"""The bot's own probes: live always answers, ready is 503 with the reason when the store (a PostgreSQL
this test owns) is unreachable and 200 again when it is back; extra probes (the Socket Mode watchdog)
take part in readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.serving.server import Health, build_web_app
from bot.store import Store, open_store
from tests.production.servers import PostgresServer


@pytest.fixture
async def store(pg_server: PostgresServer) -> AsyncIterator[Store]:
    opened = open_store(pg_server.url, schema="golive_ready")
    yield opened
    opened.close()


async def client_for(health: Health) -> TestClient:
    client = TestClient(TestServer(build_web_app(health)))
    await client.start_server()
    return client


async def test_ready_is_503_with_the_reason_while_the_store_is_down(pg_server: PostgresServer, store: Store) -> None:
    health = Health(store, None, timeout=2.0)
    client = await client_for(health)
    try:
        assert (await client.get("/healthz/startup")).status == 503
        health.started = True
        assert (await client.get("/healthz/startup")).status == 200
        ready = await client.get("/healthz/ready")
        assert ready.status == 200, await ready.text()

        pg_server.stop()
        live = await client.get("/healthz/live")
        assert live.status == 200
        ready = await client.get("/healthz/ready")
        body = await ready.json()
        assert ready.status == 503
        assert body["store"] != "ok" and body["reason"].startswith("store: "), body
        assert "@" not in body["reason"]  # never a URL with credentials

        pg_server.start()
        ready = await client.get("/healthz/ready")
        assert ready.status == 200, await ready.text()
    finally:
        await client.close()


async def test_extra_probes_decide_readiness_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sqlite = open_store(None, sqlite_path=tmp_path / "golive.db")
    health = Health(sqlite, None)
    state = {"up": True}

    async def socket_probe() -> None:
        if not state["up"]:
            raise ConnectionError("Socket Mode receive loop has stopped")

    health.probes["slack_socket"] = socket_probe
    client = await client_for(health)
    try:
        assert (await client.get("/healthz/ready")).status == 200
        state["up"] = False
        resp = await client.get("/healthz/ready")
        body = await resp.json()
        assert resp.status == 503 and "slack_socket" in body["reason"] and "receive loop" in body["reason"], body
    finally:
        await client.close()
        sqlite.close()
