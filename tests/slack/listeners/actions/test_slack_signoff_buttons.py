"""Sign-off buttons: one approval however many times the button is clicked, refusals that change
nothing but the audit log, group membership from Slack user groups, and the card kept in step."""

from __future__ import annotations

import asyncio
import json
import time

from bot.slack.ids import ACTION_SIGNOFF_APPROVE, ACTION_SIGNOFF_REJECT, ACTION_SIGNOFF_WITHDRAW
from tests.slack.support import RunningBot, SlackStub, block_action, post_signed, running_bot


async def open_card(bot: RunningBot, stub: SlackStub, *, by: str = "U0RELEASE") -> tuple[str, dict[str, str]]:
    """/golive signoff pre → (card ts, {role: button value})."""
    before = len(stub.posts(top_level=True))
    await bot.command("signoff pre", user=by)
    card = (await stub.wait_for(lambda: stub.posts(top_level=True)[before:], what="sign-off card"))[-1]
    values = {}
    for block in card.payload["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == ACTION_SIGNOFF_APPROVE:
                values[element["value"].split(":")[1]] = element["value"]
    return card.payload["ts"], values


def decisions(store, request_id: str) -> list[dict]:
    return store.db.fetchall("SELECT * FROM signoffs WHERE request_id = :id", {"id": request_id})


async def test_twenty_identical_clicks_record_one_approval(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        assert set(values) == {"tech_lead", "devops_lead", "product_owner"}
        body = block_action(ACTION_SIGNOFF_APPROVE, values["tech_lead"], user="U0TECH", message_ts=card_ts,
                            response_url=stub.response_url("dup"), action_ts=f"{time.time():.6f}")
        answers = await asyncio.gather(*(post_signed(bot.events_url, body) for _ in range(20)))
        assert [a.status for a in answers] == [200] * 20  # ack latency is measured in bench/ack_latency.py
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        await asyncio.sleep(0.3)  # let any straggler act, if it (wrongly) would
        request_id = values["tech_lead"].split(":")[0]
        rows = decisions(store, request_id)
        assert [(r["role"], r["decision"], r["user_id"]) for r in rows] == [("tech_lead", "approve", "U0TECH")]
        assert len(store.audit_log(subject=request_id, action="signoff.approve")) == 1
        assert len(stub.updates(card_ts)) == 1
        card = stub.latest(card_ts)
        assert "approved by <@U0TECH>" in card.blocks_json
        tech_buttons = [e for b in card.payload["blocks"] for e in b.get("elements", [])
                        if e.get("value") == values["tech_lead"]]
        # the role's Approve/Reject are replaced by the decision; only its Withdraw (for the decider) stays
        assert [b["action_id"] for b in tech_buttons] == ["signoff_withdraw"]
        assert "1/3 approved" in card.blocks_json
        stub.assert_clean()


async def test_twenty_distinct_clicks_by_a_group_member_record_one(stub: SlackStub, checklist, store) -> None:
    """Different action_ts (a real double click, or two devices) get past the redelivery filter:
    the store's exactly-once record still keeps it to one, and the group is looked up once."""
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        bodies = [block_action(ACTION_SIGNOFF_APPROVE, values["devops_lead"], user="U0DEVOPS", message_ts=card_ts,
                               response_url=stub.response_url(f"c{i}"), action_ts=f"{time.time() + i:.6f}")
                  for i in range(20)]
        answers = await asyncio.gather(*(post_signed(bot.events_url, b) for b in bodies))
        assert all(a.status == 200 for a in answers)
        await stub.wait_for(lambda: len(stub.of("response_url")) >= 19, what="19 'already approved' replies")
        await stub.wait_for(lambda: stub.updates(card_ts), what="the card update")
        await asyncio.sleep(0.3)
        request_id = values["devops_lead"].split(":")[0]
        assert len(decisions(store, request_id)) == 1
        assert len(stub.updates(card_ts)) == 1
        assert len(stub.of("usergroups.users.list")) == 1
        assert stub.of("usergroups.users.list")[0].payload["usergroup"] == "S0DEVOPS"
        assert all("already approved" in c.text for c in stub.of("response_url"))
        # the role by its title, the approver as a real mention (not an escaped `&lt;@…&gt;` shown as text)
        assert all("DevOps Lead was already approved by <@U0DEVOPS" in c.text for c in stub.of("response_url")), \
            stub.of("response_url")[0].text
        assert not any("&lt;@" in c.text or "&lt;@" in c.blocks_json for c in stub.of("response_url"))
        stub.assert_clean()


async def test_unauthorised_click_changes_nothing_and_is_audited(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        request_id = values["product_owner"].split(":")[0]
        calls_before = len(stub.calls)
        answer = await bot.click(ACTION_SIGNOFF_APPROVE, values["product_owner"], user="U0INTRUDER",
                                 message_ts=card_ts, response="refusal")
        assert answer.status == 200
        refusal = await stub.wait_for(lambda: stub.of("response_url"), what="refusal")
        assert refusal[0].payload["response_type"] == "ephemeral"
        assert refusal[0].payload["replace_original"] is False
        assert "Not allowed" in refusal[0].text and "Product Owner" in refusal[0].text
        assert decisions(store, request_id) == []
        assert stub.updates(card_ts) == []
        assert [c.method for c in stub.calls[calls_before:]] == ["response_url"]
        audit = store.audit_log(subject=request_id, action="access.denied")
        assert len(audit) == 1
        assert audit[0]["actor"] == "U0INTRUDER"
        assert audit[0]["detail"]["action"] == "signoff.decide" and audit[0]["detail"]["role"] == "product_owner"

        # a Reject click by a stranger is refused before any modal opens
        await bot.click(ACTION_SIGNOFF_REJECT, values["tech_lead"], user="U0INTRUDER", message_ts=card_ts)
        await stub.wait_for(lambda: len(stub.of("response_url")) == 2, what="second refusal")
        assert stub.of("views.open") == []
        assert len(store.audit_log(subject=request_id, action="access.denied")) == 2
        stub.assert_clean()


async def test_requesting_the_card_disqualifies_only_with_no_self_approval(stub: SlackStub, checklist, store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub, by="U0PO")
        await bot.click(ACTION_SIGNOFF_APPROVE, values["product_owner"], user="U0PO", message_ts=card_ts)
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        request_id = values["product_owner"].split(":")[0]
        assert [r["user_id"] for r in decisions(store, request_id)] == ["U0PO"]  # asking is no disqualification

        checklist.signoffs["post"].no_self_approval = True
        before = len(stub.posts(top_level=True))
        await bot.command("signoff post", user="U0QA")
        card = (await stub.wait_for(lambda: stub.posts(top_level=True)[before:], what="post card"))[-1]
        qa = next(e["value"] for b in card.payload["blocks"] for e in b.get("elements", [])
                  if e.get("action_id") == ACTION_SIGNOFF_APPROVE)
        await bot.click(ACTION_SIGNOFF_APPROVE, qa, user="U0QA", message_ts=card.payload["ts"], response="self")
        refusal = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                               if c.payload["response_url_name"] == "self"], what="refusal")
        assert "no_self_approval" in refusal[0].text and decisions(store, qa.split(":")[0]) == []
        assert store.audit_log(action="access.denied")[0]["actor"] == "U0QA"
        stub.assert_clean()


async def test_one_person_fills_at_most_one_role_per_stage(stub: SlackStub, checklist, store) -> None:
    checklist.signoffs["pre"].roles[2].members.append("U0TECH")  # U0TECH may act as Product Owner too
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        await bot.click(ACTION_SIGNOFF_APPROVE, values["tech_lead"], user="U0TECH", message_ts=card_ts)
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        await bot.click(ACTION_SIGNOFF_APPROVE, values["product_owner"], user="U0TECH", message_ts=card_ts,
                        response="second")
        refusal = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                               if c.payload["response_url_name"] == "second"], what="refusal")
        assert "one person fills at most one role per stage" in refusal[0].text
        request_id = values["tech_lead"].split(":")[0]
        assert [(r["role"], r["user_id"]) for r in decisions(store, request_id)] == [("tech_lead", "U0TECH")]
        assert store.audit_log(action="access.denied")[0]["detail"]["role"] == "product_owner"
        stub.assert_clean()


async def test_a_forged_withdraw_of_someone_elses_approval_is_refused_and_audited(stub: SlackStub, checklist,
                                                                                  store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        await bot.click(ACTION_SIGNOFF_APPROVE, values["tech_lead"], user="U0TECH", message_ts=card_ts)
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        # U0PO crafts a Withdraw click carrying the Tech Lead's button value
        await bot.click(ACTION_SIGNOFF_WITHDRAW, values["tech_lead"], user="U0PO", message_ts=card_ts,
                        response="forged")
        refusal = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                               if c.payload["response_url_name"] == "forged"], what="refusal")
        assert "only your own" in refusal[0].text
        request_id = values["tech_lead"].split(":")[0]
        assert [(r["role"], r["user_id"]) for r in decisions(store, request_id)] == [("tech_lead", "U0TECH")]
        denied = store.audit_log(action="access.denied")
        assert denied[0]["actor"] == "U0PO" and denied[0]["detail"]["action"] == "signoff.withdraw"
        assert store.audit_log(action="signoff.withdrawn") == []
        stub.assert_clean()


async def test_asking_again_keeps_the_decisions_and_points_the_old_card_to_the_new_one(stub: SlackStub, checklist,
                                                                                       store) -> None:
    async with running_bot(stub, checklist, store) as bot:
        old_ts, old_values = await open_card(bot, stub)
        await bot.click(ACTION_SIGNOFF_APPROVE, old_values["tech_lead"], user="U0TECH", message_ts=old_ts)
        await stub.wait_for(lambda: stub.updates(old_ts), what="card update")
        new_ts, new_values = await open_card(bot, stub, by="U0DEVOPS2")
        new_card = stub.latest(new_ts)
        assert "1/3 approved" in new_card.blocks_json and "approved by <@U0TECH>" in new_card.blocks_json
        assert set(new_values) == {"devops_lead", "product_owner"}  # the decided role keeps its decision
        old = await stub.wait_for(lambda: [c for c in stub.updates(old_ts) if "moved" in c.text], what="pointer")
        assert f"p{new_ts.replace('.', '')}" in old[-1].blocks_json and "signoff_approve" not in old[-1].blocks_json
        # the status and the gate still count the approval
        request_id = old_values["tech_lead"].split(":")[0]
        assert new_values["devops_lead"].split(":")[0] == request_id
        assert [r["role"] for r in decisions(store, request_id)] == ["tech_lead"]
        await bot.click(ACTION_SIGNOFF_APPROVE, new_values["devops_lead"], user="U0DEVOPS", message_ts=new_ts)
        await stub.wait_for(lambda: [c for c in stub.updates(new_ts) if "2/3 approved" in c.text], what="new card")
        stub.assert_clean()


async def test_withdraw_brings_the_buttons_back(stub: SlackStub, checklist, store) -> None:
    from bot.signoff.service import SignoffService

    async with running_bot(stub, checklist, store) as bot:
        card_ts, values = await open_card(bot, stub)
        request_id = values["tech_lead"].split(":")[0]
        SignoffService(store, checklist).record(request_id, "tech_lead", "reject", user_id="U0TECH", reason="no")
        await bot.click(ACTION_SIGNOFF_WITHDRAW, values["tech_lead"], user="U0TECH", message_ts=card_ts)
        await stub.wait_for(lambda: stub.updates(card_ts), what="card update")
        assert decisions(store, request_id) == []
        card = stub.latest(card_ts)
        assert values["tech_lead"] in json.dumps(card.payload["blocks"])
        assert len(store.audit_log(subject=request_id, action="signoff.withdrawn")) == 1
        stub.assert_clean()
