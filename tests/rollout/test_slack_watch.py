"""The rollout through Slack (the Web API stub of tests/slack/support.py): promotion opens the phase's
thread, the watch's P0 alert, escalation and all-clear land in it once each, and the alert's Roll back
button (a signed click on the running bot) rolls the phase back through `handle_rollout_action`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.announcements.events import FanoutNotifier, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime
from bot.runs.service import execute_run
from bot.slack.client import build_web_client
from bot.slack.ids import ACTION_ROLLOUT_KEEP_GOING, ACTION_ROLLOUT_ROLLBACK
from bot.slack.notifier import SlackNotifier
from bot.slack.poster import SlackPoster
from bot.store import Store
from checks.spec import Checklist
from tests.rollout.test_promote import sign
from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub, running_bot


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    slack = await SlackStub().start()
    yield slack
    await slack.close()


def buttons(payload: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {e["action_id"]: e["value"] for b in payload.get("blocks", []) for e in b.get("elements", [])
            if e.get("type") == "button"}


async def test_alert_lifecycle_and_rollback_button_through_slack(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer,
        stub: SlackStub, tmp_path: Path) -> None:
    checklist = write_checklist(target.base_url, watch={"escalate_after_seconds": 1.0,
                                                        "escalate_mention": "<!subteam^S0ONCALL>"})
    original = (tmp_path / "target.env").read_bytes()
    recording = RecordingNotifier()
    slack = SlackNotifier(SlackPoster(build_web_client(BOT_TOKEN, stub.api_url), store), CHANNEL)
    notifier = FanoutNotifier([slack, recording])
    runtime = await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=locks.prefix, env={})
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    assert (await runtime.service.promote("phase-1", actor="U0TECH")).ok
    assert (await runtime.service.promote("phase-2", actor="U0TECH")).ok
    parent = stub.posts(top_level=True)[-1]
    assert "promoted to phase-2 (was phase-1)" in parent.text and "APP_PC_ENABLED=true" in parent.blocks_json
    thread = parent.payload["ts"]

    watch = runtime.watch()
    await watch.start()
    try:
        await asyncio.sleep(0.5)
        assert stub.posts(thread_ts=thread) == []
        target.set(mode="degraded")
        opened = await stub.wait_for(lambda: stub.posts(thread_ts=thread), timeout=8, what="the P0 alert")
        escalated = await stub.wait_for(lambda: [c for c in stub.posts(thread_ts=thread) if "escalated" in c.text],
                                        timeout=5, what="the escalation")
        await asyncio.sleep(1.0)
        target.set(mode="healthy")
        await stub.wait_for(lambda: [c for c in stub.posts(thread_ts=thread) if "All clear" in c.text],
                            timeout=8, what="the all-clear")
        await asyncio.sleep(0.6)
    finally:
        await watch.stop()

    alert = opened[0]
    assert "P0 alert" in alert.text and "answered 503 (expected 200)" in alert.text
    assert buttons(alert.payload) == {ACTION_ROLLOUT_ROLLBACK: "phase-2", ACTION_ROLLOUT_KEEP_GOING: "phase-2"}
    assert "<!subteam^S0ONCALL>" in escalated[0].blocks_json and escalated[0].payload["reply_broadcast"] is True
    in_thread = [c.text for c in stub.posts(thread_ts=thread)]
    assert sum("P0 alert" in t for t in in_thread) == 1 and sum("escalated" in t for t in in_thread) == 1
    assert sum("All clear" in t for t in in_thread) == 1
    assert sum("paused" in t and "All clear" not in t for t in in_thread) == 1  # phase-2 pauses (on_p0: pause)
    assert any("All clear" in t and "golive resume" in t for t in in_thread)  # and says how to resume
    assert buttons(stub.latest(alert.payload["ts"]).payload) == {}  # the cleared alert lost its buttons

    async with running_bot(stub, checklist, store, on_rollout_action=runtime.service.action_hook) as bot:
        await bot.click(ACTION_ROLLOUT_ROLLBACK, "phase-2", user="U0TECH", response="rb")
        reply = await stub.wait_for(lambda: stub.of("response_url"), what="the reply to the click")
        assert "rolled back phase-2 → phase-1" in reply[0].text
    assert await runtime.service.current_phase() == "phase-1"
    assert (tmp_path / "target.env").read_bytes() == original
    rolled = [c for c in stub.posts(thread_ts=thread) if "rolled back" in c.text]
    assert len(rolled) == 1 and rolled[0].payload["reply_broadcast"] is True
    assert store.audit_log(action="rollout.rolled_back", limit=1)[0]["actor"] == "U0TECH"
    stub.assert_clean()
    await runtime.close()
