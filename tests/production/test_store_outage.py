"""PostgreSQL (the bot's store, a server this test owns) stops while the bot runs and comes back.

Through the real HTTP endpoint of `golive serve --http`: /healthz/ready says 503 and why; commands
and clicks answer with a clear message; nothing is half-written; after the restart the same bot
(no restart of its own) is ready again and records everything normally.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import ClientSession, ClientTimeout

from bench.harness import LEADS, running_bot
from bot.slack.ids import ACTION_SIGNOFF_APPROVE
from bot.store import open_store
from tests.production.bot_client import SlackUser, flatten
from tests.production.servers import PostgresServer, RedisServer

UNREACHABLE = "PostgreSQL store is unreachable"


def card_buttons(user: SlackUser, before: int) -> tuple[str, str]:
    from bench.harness import button_values

    for post in user.stub.methods("chat.postMessage")[before:]:
        for action, value in button_values(post.get("blocks")):
            if action == ACTION_SIGNOFF_APPROVE and value.endswith(":tech_lead"):
                return post["_ts"], value
    raise AssertionError("no sign-off card posted")


async def wait_for(predicate, timeout: float = 90.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout  # a fail-safe, not a speed bound: a passing run returns as soon as it holds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        await asyncio.sleep(0.1)


async def test_store_outage_is_reported_and_recovered(pg_server: PostgresServer, redis_server: RedisServer) -> None:
    url = fresh_database(pg_server)
    with running_bot(database_url=url, redis_url=redis_server.url,
                     extra_env={"GOLIVE_STORE_TIMEOUT": "1", "GOLIVE_STORE_BACKOFF": "0.2"}) as (bot, stub):
        async with ClientSession(timeout=ClientTimeout(total=30)) as http:
            user = SlackUser(http, bot, stub)
            assert (await user.ready())[0] == 200
            before = len(stub.methods("chat.postMessage"))
            await user.command("signoff pre")
            await wait_for(lambda: len(stub.methods("chat.postMessage")) > before, what="sign-off card")
            card_ts, approve = card_buttons(user, before)
            request_id = approve.split(":", 1)[0]

            pg_server.stop()
            # readiness: 503 with the reason, naming the store
            body = await user.wait_ready(503)
            assert "store" in body["reason"], body
            # commands and clicks: a clear answer each, nothing silently dropped
            for text in ("status", "run quick", "history"):
                answer = await user.reply(await user.command(text))
                assert UNREACHABLE in answer, (text, answer)
            answer = await user.reply(await user.click(ACTION_SIGNOFF_APPROVE, approve, user=LEADS["tech_lead"],
                                                       message_ts=card_ts))
            assert UNREACHABLE in answer, answer

            pg_server.start()
            await user.wait_ready(200)
            # the same bot process works again: a run is recorded in full, the approval once
            before = len(stub.methods("chat.postMessage"))
            await user.command("run quick")
            await user.click(ACTION_SIGNOFF_APPROVE, approve, user=LEADS["tech_lead"], message_ts=card_ts)
            store = open_store(url)
            try:
                await wait_for(lambda: [r.status for r in store.runs(limit=10)] == ["finished"], what="run finished")
                await wait_for(lambda: len(store.db.fetchall("SELECT * FROM signoffs")) == 1, what="sign-off")
                run = store.runs(limit=10)[0]
                assert len(store.results(run.id)) == 5 and run.verdict is not None
                # nothing from the outage was half-written: one run (the one after), one decision,
                # and the audit log holds exactly the request and the approval
                actions = sorted(a["action"] for a in store.audit_log(subject=request_id))
                assert actions == ["signoff.approve", "signoff.requested"], actions
            finally:
                store.close()
            assert len(stub.methods("chat.postMessage")) > before


def fresh_database(server: PostgresServer) -> str:
    import psycopg

    name = f"golive_{time.time_ns() % 10**12}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return server.url.rsplit("/", 1)[0] + "/" + name


async def test_store_dies_during_a_run(pg_server: PostgresServer) -> None:
    """The run's requester is told (after the retries and the hold window); once the store is back the
    run is marked interrupted by the sweep, since its heartbeat stopped (not left 'running'), its message
    says so with a Re-run button, and the phase runs again normally."""
    url = fresh_database(pg_server)
    with running_bot(database_url=url, extra_env={"GOLIVE_STORE_HOLD_SECONDS": "3", "GOLIVE_HEARTBEAT_SECONDS": "0.5",
                                                  "GOLIVE_HEARTBEAT_TTL_SECONDS": "3",
                                                  "GOLIVE_SWEEP_SECONDS": "1", "GOLIVE_STORE_TIMEOUT": "1",
                                                  "GOLIVE_STORE_BACKOFF": "0.2"}) as (bot, stub):
        async with ClientSession(timeout=ClientTimeout(total=30)) as http:
            user = SlackUser(http, bot, stub)
            key = await user.command("run slow")
            store = open_store(url)
            try:
                await wait_for(lambda: [r.status for r in store.runs(limit=5)] == ["running"], what="run started")
                run_id = store.runs(limit=5)[0].id
            finally:
                store.close()
            pg_server.stop()
            answer = await user.reply(key, timeout=40)
            assert UNREACHABLE in answer, answer

            pg_server.start()
            await user.wait_ready(200)
            store = open_store(url)
            try:
                # the bot's periodic sweep (GOLIVE_SWEEP_SECONDS, 30 s by default; 1 s here) finds the
                # orphaned run once the store answers and its heartbeat has expired
                await wait_for(lambda: store.get_run(run_id).status == "interrupted",  # type: ignore[union-attr]
                               what="run marked interrupted")
                try:
                    await wait_for(lambda: any(": interrupted" in flatten(a) for a in stub.methods("chat.update")),
                                   what="run message repainted")
                except AssertionError as exc:  # what the bot said about it, to tell why
                    raise AssertionError(f"{exc}\n--- bot log ---\n{bot.log()}") from None
                await user.command("run slow")
                await wait_for(lambda: store.runs(limit=1)[0].status == "finished",
                               what="re-run finished")
                assert [r.status for r in store.runs(limit=5)] == ["finished", "interrupted"]
            finally:
                store.close()
