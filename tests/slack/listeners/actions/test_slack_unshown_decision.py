"""Hole 2 of issue 21: a click whose card Slack will not update. The decision is stored; the clicker must
hear so privately (response_url, ephemeral) instead of silence, and the next update repairs the card."""

from __future__ import annotations

import time

from bot.slack.ids import ACTION_SIGNOFF_APPROVE
from tests.slack.listeners.actions.test_slack_signoff_buttons import decisions, open_card
from tests.slack.support import SlackStub, block_action, post_signed, running_bot


async def test_a_failed_card_update_after_a_click_is_told_to_the_clicker(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        stub.fail_next("chat.update", status=500, times=3)  # the first try and both retries
        body = block_action(ACTION_SIGNOFF_APPROVE, values["tech_lead"], user="U0TECH", message_ts=card_ts,
                            response_url=stub.response_url("U0TECH"), action_ts=f"{time.time():.6f}")
        assert (await post_signed(bot.events_url, body)).status == 200
        told = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                            if c.payload.get("response_url_name") == "U0TECH"], what="the clicker told")
        request_id = values["tech_lead"].split(":")[0]
        assert [r["decision"] for r in decisions(store, request_id)] == ["approve"]  # recorded
        assert len([c for c in stub.calls if c.method == "chat.update!500"]) == 3
        [notice] = told
        assert notice.payload["response_type"] == "ephemeral" and notice.payload.get("replace_original") is False
        assert "recorded" in notice.text and "could not be updated" in notice.text
        assert "internal error" not in notice.text.lower()
        # the next update of the card (another role's decision) shows every decision so far
        body = block_action(ACTION_SIGNOFF_APPROVE, values["devops_lead"], user="U0DEVOPS", message_ts=card_ts,
                            response_url=stub.response_url("U0DEVOPS"), action_ts=f"{time.time():.6f}")
        assert (await post_signed(bot.events_url, body)).status == 200
        await stub.wait_for(lambda: stub.updates(card_ts), what="the repaired card")
        card = stub.latest(card_ts)
        assert "approved by <@U0TECH>" in card.blocks_json and "approved by <@U0DEVOPS>" in card.blocks_json
        stub.assert_clean()
