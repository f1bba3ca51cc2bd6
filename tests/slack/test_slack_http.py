"""The web server: Slack's request signing is enforced (401 otherwise), retried deliveries never act,
and the health probes say what is wrong."""

from __future__ import annotations

import time

import aiohttp

from tests.conftest import REDIS_URL
from tests.slack.support import SECRETS, SlackSigner, SlackStub, post_signed, running_bot, slash_command


async def get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.json()


async def test_requests_must_be_signed_by_slack_and_fresh(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        body = slash_command("help", response_url=stub.response_url("help"))
        unsigned = await post_signed(bot.events_url, body, signed=False)
        wrong = await post_signed(bot.events_url, body, signer=SlackSigner("not-the-signing-secret"))
        stale = await post_signed(bot.events_url, body, timestamp=int(time.time()) - 6 * 60)
        tampered = await post_signed(bot.events_url, body, headers={
            "X-Slack-Signature": SlackSigner().signature(body + "x", int(time.time()))})
        good = await post_signed(bot.events_url, body)
        assert [unsigned.status, wrong.status, stale.status, tampered.status] == [401, 401, 401, 401]
        assert good.status == 200
        help_reply = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                                  if c.payload["response_url_name"] == "help"], what="help reply")
        assert len(help_reply) == 1  # only the signed request was acted on
        assert help_reply[0].payload["response_type"] == "ephemeral"
        assert "/golive run" in help_reply[0].blocks_json
        stub.assert_clean()


async def test_retried_delivery_is_acknowledged_without_acting(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        body = slash_command("run day2", response_url=stub.response_url())
        retry = await post_signed(bot.events_url, body, headers={"X-Slack-Retry-Num": "1",
                                                                 "X-Slack-Retry-Reason": "http_timeout"})
        assert retry.status == 200
        await bot.command("status")  # something that does act, to know the bot has had time to
        await stub.wait_for(lambda: stub.posts(top_level=True), what="status message")
        assert store.runs() == []
        assert all("day2" not in c.text for c in stub.calls)


async def test_same_command_delivered_twice_acts_once(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        body = slash_command("status", response_url=stub.response_url(), trigger_id="42.same-trigger")
        first, second = await post_signed(bot.events_url, body), await post_signed(bot.events_url, body)
        assert first.status == second.status == 200
        await stub.wait_for(lambda: stub.posts(top_level=True), what="status message")
        await bot.command("help", response="after")
        await stub.wait_for(lambda: stub.of("response_url"), what="help")
        assert len(stub.posts(top_level=True)) == 1


async def test_health_probes(stub: SlackStub, checklist, store, redis_prefix: str) -> None:
    async with running_bot(stub, checklist, store, redis_url=REDIS_URL, redis_prefix=redis_prefix,
                           start=False) as bot:
        assert await get(f"{bot.url}/healthz/live") == (200, {"status": "ok"})
        status, body = await get(f"{bot.url}/healthz/startup")
        assert status == 503
        await bot.bot.start()
        bot.health.started = True
        assert (await get(f"{bot.url}/healthz/startup"))[0] == 200
        status, body = await get(f"{bot.url}/healthz/ready")
        assert (status, body["store"], body["redis"]) == (200, "ok", "ok")
    async with running_bot(stub, checklist, store, redis_url="redis://:hunter2pass@127.0.0.1:1/0") as bot:
        status, body = await get(f"{bot.url}/healthz/ready")
        assert status == 503
        assert body["store"] == "ok" and body["redis"] != "ok"
        assert "redis" in body["reason"] and "hunter2pass" not in str(body)
    async with running_bot(stub, checklist, store) as bot:
        status, body = await get(f"{bot.url}/healthz/ready")
        assert (status, body["redis"]) == (200, "not configured")
        store.close()  # the store going away makes the bot unready, with the reason
        status, body = await get(f"{bot.url}/healthz/ready")
        assert status == 503 and body["store"] != "ok"
    assert not any(secret in str(body) for secret in SECRETS)
