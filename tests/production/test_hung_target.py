"""A target that accepts connections and never answers fails its checks at their timeout; the command
that ran them answers in about that time and the lock is free again — never a hung command."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from bot.chatops.actor import Actor
from bot.chatops.service import ChatOps
from bot.coordination.locks import LocalLocks
from bot.runs.service import RunOutcome
from bot.store import open_store
from checks.loader import parse_checklist


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and then says nothing, forever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def hung_checklist(port: int) -> str:
    return f"""
name: hung
vars: {{TARGET: "http://127.0.0.1:{port}"}}
target: {{base_url: "${{TARGET}}"}}
phases:
  - id: day1
    checks:
      - {{id: health.live, kind: http, criticality: critical, timeout: 1, params: {{url: /healthz/live}}}}
      - {{id: db.connect, kind: postgres.query, criticality: critical, timeout: 1,
          params: {{url: "postgresql://u:pw@127.0.0.1:{port}/x", connect_timeout: 30}}}}
      - {{id: redis.ping, kind: redis.ping, criticality: critical, timeout: 1,
          params: {{url: "redis://127.0.0.1:{port}/0", connect_timeout: 30}}}}
"""


async def test_hung_target_fails_at_the_check_timeout(silent_port: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    checklist = parse_checklist(hung_checklist(silent_port), "hung.yml")
    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    chatops = ChatOps(store, checklist, locks=LocalLocks())
    actor = Actor("U1", "slack")
    try:
        # a hang guard, not a speed bound: without the 1 s check timeouts the 30 s connects would hit it
        reply = await asyncio.wait_for(chatops.run(actor, "day1"), timeout=20)
        assert isinstance(reply, RunOutcome)
        assert {r.check_id: r.status.value for r in reply.report.results} == {
            "health.live": "fail", "db.connect": "fail", "redis.ping": "fail"}
        assert all("timed out after" in r.summary for r in reply.report.results), \
            [r.summary for r in reply.report.results]
        assert reply.run.status == "finished" and not reply.report.verdict.go
        # the phase is free to run again at once
        assert await chatops.locks.holder(chatops.run_lock_key("day1")) is None
    finally:
        store.close()
