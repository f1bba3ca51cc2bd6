"""Roll back / Keep going: access-checked, then handed to the rollout hook; without one, the clicker
is told rollout is not configured."""

from __future__ import annotations

from bot.slack.ids import ACTION_ROLLOUT_KEEP_GOING, ACTION_ROLLOUT_ROLLBACK
from tests.slack.support import SlackStub, running_bot


async def test_buttons_call_the_hook_for_role_members(stub: SlackStub, checklist, store) -> None:
    calls: list[tuple[str, str, str]] = []

    async def hook(action: str, phase: str, user_id: str) -> str:
        calls.append((action, phase, user_id))
        return f"rolling back {phase}" if action == "rollback" else "carrying on"

    async with running_bot(stub, checklist, store, on_rollout_action=hook) as bot:
        await bot.click(ACTION_ROLLOUT_ROLLBACK, "phase-2", user="U0DEVOPS2", response="rb")
        await bot.click(ACTION_ROLLOUT_KEEP_GOING, "phase-2", user="U0TECH", response="kg")
        await bot.click(ACTION_ROLLOUT_ROLLBACK, "phase-2", user="U0STRANGER", response="no")
        replies = await stub.wait_for(lambda: len(stub.of("response_url")) == 3 and stub.of("response_url"))
        by_name = {c.payload["response_url_name"]: c.text for c in replies}
        assert sorted(calls) == [("keep_going", "phase-2", "U0TECH"), ("rollback", "phase-2", "U0DEVOPS2")]
        assert by_name["rb"] == "rolling back phase-2" and by_name["kg"] == "carrying on"
        assert "Not allowed" in by_name["no"]
        assert store.audit_log(action="access.denied")[0]["detail"]["action"] == "rollout.rollback"
        stub.assert_clean()


async def test_without_a_hook_rollout_is_not_configured(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        await bot.click(ACTION_ROLLOUT_ROLLBACK, "phase-2", user="U0TECH")
        reply = await stub.wait_for(lambda: stub.of("response_url"))
        assert "not configured" in reply[0].text
