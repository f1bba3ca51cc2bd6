"""Reject: button → modal (views.open with the click's trigger_id) → view_submission with the reason →
recorded with its reason, the card shows it, Go is blocked and status names who is still missing."""

from __future__ import annotations

import json

from bot.slack.ids import (
    ACTION_SIGNOFF_APPROVE,
    ACTION_SIGNOFF_REJECT,
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    VIEW_SIGNOFF_REJECT,
)
from tests.slack.listeners.actions.test_slack_signoff_buttons import decisions, open_card
from tests.slack.support import SlackStub, block_action, post_signed, running_bot, view_submission


def reason_values(text: str) -> dict:
    return {REJECT_REASON_BLOCK: {REJECT_REASON_INPUT: {"type": "plain_text_input", "value": text}}}


async def test_reject_asks_for_a_reason_records_it_and_blocks_go(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        request_id = values["product_owner"].split(":")[0]
        click = block_action(ACTION_SIGNOFF_REJECT, values["product_owner"], user="U0PO", message_ts=card_ts,
                             response_url=stub.response_url(), trigger_id="777.reject-trigger")
        assert (await post_signed(bot.events_url, click)).status == 200
        opened = (await stub.wait_for(lambda: stub.of("views.open"), what="the reason modal"))[0]
        assert opened.payload["trigger_id"] == "777.reject-trigger"
        view = opened.payload["view"]
        assert view["callback_id"] == VIEW_SIGNOFF_REJECT and view["type"] == "modal"
        meta = json.loads(view["private_metadata"])
        assert meta == {"request": request_id, "role": "product_owner", "channel": "C0RELEASE", "ts": card_ts}
        assert decisions(store, request_id) == []  # nothing recorded until the reason is given

        # an empty reason is refused inside the modal
        empty = await post_signed(bot.events_url, view_submission(
            VIEW_SIGNOFF_REJECT, user="U0PO", private_metadata=view["private_metadata"], values=reason_values("  ")))
        assert empty.status == 200 and empty.json()["response_action"] == "errors"
        assert REJECT_REASON_BLOCK in empty.json()["errors"]

        submitted = await post_signed(bot.events_url, view_submission(
            VIEW_SIGNOFF_REJECT, user="U0PO", private_metadata=view["private_metadata"],
            values=reason_values("Pricing page still shows the old plan <b>")))
        assert submitted.status == 200 and submitted.body == ""  # closes the modal
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        rows = decisions(store, request_id)
        assert [(r["role"], r["decision"], r["user_id"], r["reason"]) for r in rows] == [
            ("product_owner", "reject", "U0PO", "Pricing page still shows the old plan <b>")]
        card = stub.latest(card_ts)
        assert "rejected by <@U0PO>" in card.blocks_json
        assert "Pricing page still shows the old plan &lt;b&gt;" in card.blocks_json  # escaped, not markup
        assert "Go is blocked" in card.blocks_json

        # status: NO-GO because of the reject, and who is still missing
        await bot.click(ACTION_SIGNOFF_APPROVE, values["tech_lead"], user="U0TECH", message_ts=card_ts)
        await stub.wait_for(lambda: len(stub.updates(card_ts)) == 2, what="second card update")
        await bot.command("status")
        status = (await stub.wait_for(lambda: [c for c in stub.posts(top_level=True)
                                               if "go-live status" in c.blocks_json], what="status"))[0]
        assert "NO-GO" in status.text
        assert "sign-off pre:product_owner rejected by U0PO" in status.blocks_json
        assert "Missing sign-offs:* DevOps Lead (pre), QA Lead (post)" in status.blocks_json
        assert "Tech Lead (pre)" not in status.blocks_json.split("Missing sign-offs")[1].split("\\n")[0]
        stub.assert_clean()
