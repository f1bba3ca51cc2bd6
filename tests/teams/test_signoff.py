"""Sign-off cards in Teams: Action.Execute invokes answered with the updated card, Action.Submit messages
updating the card in place, each decision recorded once, unauthorised clicks refused and audited by the
shared access table (roles list Entra object ids next to Slack user ids)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.teams.ids import VERB_SIGNOFF
from tests.teams.conftest import DEVOPS, OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import (
    CARD_TYPE,
    MESSAGE_TYPE,
    Connector,
    card_text,
    cards_of,
    execute,
    find_actions,
    message,
    pressed,
    submit,
    user,
)


async def open_card(client: TeamsClient, requester: str = OUTSIDER) -> dict[str, Any]:
    [card] = await client.reply_cards(message("signoff pre", client.service_url, user(requester, "Requester")))
    return card


def button(card: dict[str, Any], role: str, decision: str) -> dict[str, Any]:
    return next(a for a in find_actions(card) if a["data"].get("role") == role and a["data"]["decision"] == decision)


def decisions(client: TeamsClient) -> list[dict[str, Any]]:
    return client.transport.bot.chatops.store.db.fetchall("SELECT role, decision, user_id, reason FROM signoffs")


def audit(client: TeamsClient, action: str) -> list[dict[str, Any]]:
    return client.transport.bot.chatops.store.audit_log(action=action)


async def test_the_card_has_a_button_per_role(client: TeamsClient) -> None:
    card = await open_card(client)
    assert "Sign-off: Before deploy (pre)" in card_text(card) and "0/2 decided" in card_text(card)
    assert {(a["title"], a["data"]["role"]) for a in find_actions(card)} == {
        ("Approve", "tech_lead"), ("Reject", "tech_lead"), ("Approve", "devops_lead"), ("Reject", "devops_lead")}
    assert all(a["verb"] == VERB_SIGNOFF and a["fallback"]["type"] == "Action.Submit" for a in find_actions(card))


async def test_execute_records_once_under_concurrent_clicks(client: TeamsClient) -> None:
    card = await open_card(client)
    verb, data = pressed(button(card, "tech_lead", "approve"))
    clicks = [execute(verb, data, client.service_url, user(TECH_LEAD, "Tess Lead")) for _ in range(2)]
    answers = await asyncio.gather(*(client.post(c) for c in clicks))
    for status, body in answers:
        assert status == 200 and body["statusCode"] == 200 and body["type"] == CARD_TYPE
        assert "Tech Lead — approved by Tess Lead" in card_text(body["value"])
    assert decisions(client) == [{"role": "tech_lead", "decision": "approve", "user_id": TECH_LEAD, "reason": ""}]
    assert len(audit(client, "signoff.approve")) == 1
    updated = answers[0][1]["value"]
    assert "1/2 decided" in card_text(updated)
    assert {a["title"] for a in find_actions(updated) if a["data"]["role"] == "tech_lead"} == {"Withdraw"}

    status, body = await client.post(clicks[0])  # Teams redelivering the same invoke
    assert status == 200 and body == {"statusCode": 200, "type": MESSAGE_TYPE, "value": "Already handled."}
    assert len(decisions(client)) == 1


async def test_an_unauthorised_click_is_refused_and_audited(client: TeamsClient) -> None:
    card = await open_card(client, requester=TECH_LEAD)
    verb, data = pressed(button(card, "devops_lead", "approve"))
    status, body = await client.post(execute(verb, data, client.service_url, user(OUTSIDER, "Otto")))
    assert status == 200 and body["type"] == MESSAGE_TYPE
    assert body["value"] == "Not allowed: only people mapped to DevOps Lead may sign off for it"
    assert decisions(client) == []
    [denied] = audit(client, "access.denied")
    assert denied["actor"] == OUTSIDER and denied["subject"] == data["request"]
    assert denied["detail"] == {"action": "signoff.decide", "reason": body["value"].removeprefix("Not allowed: "),
                                "transport": "teams", "stage": "pre", "role": "devops_lead"}


async def test_requesting_the_card_disqualifies_only_with_no_self_approval(client: TeamsClient) -> None:
    card = await open_card(client, requester=TECH_LEAD)
    verb, data = pressed(button(card, "tech_lead", "approve"))
    _, body = await client.post(execute(verb, data, client.service_url, user(TECH_LEAD, "Tess Lead")))
    assert "Tech Lead — approved by Tess Lead" in card_text(body["value"])  # asking is no disqualification

    client.transport.bot.chatops.checklist.signoffs["pre"].no_self_approval = True
    verb, data = pressed(button(card, "devops_lead", "approve"))
    client.transport.bot.chatops.store.db.execute("UPDATE signoff_requests SET requested_by = :u", {"u": DEVOPS})
    _, body = await client.post(execute(verb, data, client.service_url, user(DEVOPS)))
    assert "no_self_approval" in body["value"] and len(decisions(client)) == 1
    assert audit(client, "access.denied")[0]["actor"] == DEVOPS


async def test_one_person_fills_at_most_one_role_per_stage(client: TeamsClient) -> None:
    client.transport.bot.chatops.checklist.signoffs["pre"].roles[1].members.append(TECH_LEAD)  # two roles
    card = await open_card(client)
    _, body = await client.post(execute(*pressed(button(card, "tech_lead", "approve")), client.service_url,
                                        user(TECH_LEAD)))
    _, body = await client.post(execute(*pressed(button(card, "devops_lead", "approve")), client.service_url,
                                        user(TECH_LEAD)))
    assert body["type"] == MESSAGE_TYPE and "one person fills at most one role per stage" in body["value"]
    assert [d["role"] for d in decisions(client)] == ["tech_lead"]
    assert audit(client, "access.denied")[0]["detail"]["role"] == "devops_lead"


async def test_a_forged_withdraw_of_someone_elses_approval_is_refused_and_audited(client: TeamsClient) -> None:
    card = await open_card(client)
    _, body = await client.post(execute(*pressed(button(card, "tech_lead", "approve")), client.service_url,
                                        user(TECH_LEAD)))
    withdraw = next(a for a in find_actions(body["value"]) if a["title"] == "Withdraw")
    _, body = await client.post(execute(*pressed(withdraw), client.service_url, user(DEVOPS)))
    assert body["type"] == MESSAGE_TYPE and "only your own" in body["value"]
    assert [(d["role"], d["user_id"]) for d in decisions(client)] == [("tech_lead", TECH_LEAD)]
    assert audit(client, "access.denied")[0]["actor"] == DEVOPS and audit(client, "signoff.withdrawn") == []


async def test_asking_again_keeps_the_decisions_and_points_the_old_card_to_the_new_one(
        client: TeamsClient, connector: Connector) -> None:
    """Normal delivery (no expectReplies): cards go through the Bot Connector, so the old one can be edited."""
    status, _ = await client.post(message("signoff pre", client.service_url, user(OUTSIDER)))
    assert status in (200, 202)

    def posts(c: Connector) -> list[Any]:
        return [call for call in c.calls if call.method == "POST"]

    await connector.wait_for(lambda c: len(posts(c)) == 1)
    [first] = posts(connector)
    first_id = "msg-1000"  # the connector's first id
    await client.post(execute(*pressed(button(cards_of(first.body)[0], "tech_lead", "approve")),
                                        client.service_url, user(TECH_LEAD, "Tess Lead")))
    await client.post(message("signoff pre", client.service_url, user(DEVOPS)))
    def moved_cards(c: Connector) -> list[Any]:
        return [call for call in c.calls
                if call.method == "PUT" and "This card moved" in card_text(cards_of(call.body))]

    await connector.wait_for(lambda c: len(posts(c)) == 2 and moved_cards(c))
    new_card = card_text(cards_of(posts(connector)[1].body))
    assert "1/2 decided" in new_card and "Tech Lead — approved by Tess Lead" in new_card
    [moved] = moved_cards(connector)
    assert moved.activity_id == first_id
    assert find_actions(cards_of(moved.body)[0]) == []
    assert len(decisions(client)) == 1 and len(audit(client, "signoff.card_reposted")) == 1


async def test_reject_needs_the_reason_typed_into_the_card(client: TeamsClient) -> None:
    card = await open_card(client)
    reject = button(card, "devops_lead", "reject")
    verb, data = pressed(reject)
    _, body = await client.post(execute(verb, data, client.service_url, user(DEVOPS)))
    assert body["type"] == MESSAGE_TYPE and body["value"] == "a reject needs a reason"
    verb, data = pressed(reject, **{"reason.devops_lead": "backup not verified"})
    _, body = await client.post(execute(verb, data, client.service_url, user(DEVOPS, "Dev Ops")))
    shown = card_text(body["value"])  # the reason as typed, in a TextRun (never read as Markdown)
    assert "DevOps Lead — rejected by Dev Ops" in shown and "Reason: backup not verified" in shown
    assert decisions(client) == [{"role": "devops_lead", "decision": "reject", "user_id": DEVOPS,
                                  "reason": "backup not verified"}]


async def test_submit_updates_the_card_in_place_and_records_once(client: TeamsClient, connector: Connector) -> None:
    """Action.Submit (hosts without Universal Actions): a message whose value is the button's data; the
    card it came from (replyToId) is updated through the Bot Connector."""
    card = await open_card(client)
    fallback = button(card, "devops_lead", "approve")["fallback"]
    assert fallback["type"] == "Action.Submit" and fallback["data"]["verb"] == VERB_SIGNOFF
    clicks = [submit(fallback["data"], client.service_url, user(DEVOPS, "Dev Ops"), reply_to="card-7")
              for _ in range(2)]
    statuses = await asyncio.gather(*(client.post(c) for c in clicks))
    assert [s for s, _ in statuses] == [202, 202]
    assert decisions(client) == [{"role": "devops_lead", "decision": "approve", "user_id": DEVOPS, "reason": ""}]
    assert len(audit(client, "signoff.approve")) == 1
    updates = [c for c in connector.calls if c.method == "PUT"]
    assert len(updates) == 2 and {u.activity_id for u in updates} == {"card-7"}
    assert all("DevOps Lead — approved by Dev Ops" in card_text(cards_of(u.body)) for u in updates)


async def test_withdraw_takes_a_decision_back(client: TeamsClient) -> None:
    card = await open_card(client)
    verb, data = pressed(button(card, "tech_lead", "approve"))
    _, body = await client.post(execute(verb, data, client.service_url, user(TECH_LEAD)))
    withdraw = next(a for a in find_actions(body["value"]) if a["title"] == "Withdraw")
    _, body = await client.post(execute(*pressed(withdraw), client.service_url, user(TECH_LEAD)))
    assert "0/2 decided" in card_text(body["value"]) and decisions(client) == []
    assert len(audit(client, "signoff.withdrawn")) == 1


async def test_a_tampered_button_is_refused_without_recording(client: TeamsClient) -> None:
    _, body = await client.post(execute(VERB_SIGNOFF, {"request": "nope", "role": "tech_lead", "decision": "approve"},
                                        client.service_url, user(TECH_LEAD)))
    assert body["type"] == MESSAGE_TYPE and "no longer exists" in body["value"]
    _, body = await client.post(execute(VERB_SIGNOFF, {"decision": "approve"}, client.service_url, user(TECH_LEAD)))
    assert "incomplete" in body["value"] and decisions(client) == []
