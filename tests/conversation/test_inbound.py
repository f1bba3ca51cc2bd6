"""The inbound pipeline's behaviour, the same over Slack, Teams and the in-memory transport: a refusal is
private and audited once, a store outage is told to the asker, the platform's 429, 5xx and non-JSON
answers are retried or told honestly, a decision that cannot be shown is told privately and repaired by
the next update, and a click on a moved sign-off card updates the current card instead of reviving the old."""

from __future__ import annotations

from bot.policy.waivers import active_waivers
from bot.signoff.service import SignoffService
from tests.conversation.harness import Harness, Msg


def said_to(harness: Harness, user: str) -> list[str]:
    return harness.private(user) + [m.text for m in harness.public()]


def honest(texts: list[str]) -> None:
    for text in texts:
        assert "internal error" not in text.lower() and "<html" not in text.lower(), text
        assert "ClientResponseError" not in text and "SlackApiError" not in text, text


async def test_a_refusal_is_private_audited_once_and_changes_nothing(harness: Harness) -> None:
    outsider = harness.user("outsider")
    await harness.receive("waive redis.ok 2h warming up", user=outsider, key="waive-1")
    [refusal] = harness.private(outsider)
    assert "only people mapped to a sign-off role" in refusal
    assert harness.public() == []
    store = harness.chatops.store
    denied = store.audit_log(action="access.denied")
    assert [d["actor"] for d in denied] == [outsider]  # refused once, by the pipeline's access step
    assert not active_waivers(store, harness.chatops.checklist)


async def test_a_store_outage_is_told_to_the_asker_and_claims_nothing(harness: Harness) -> None:
    asker = harness.user("rel")
    with harness.store_down():
        await harness.receive("status", user=asker, key="status-down")
    [told] = said_to(harness, asker)
    assert "nothing changed" in told and "try again" in told.lower()
    honest([told])


async def test_a_429_from_the_platform_is_waited_out_and_the_answer_arrives(harness: Harness) -> None:
    asker = harness.user("rel")
    harness.fail_next("post", 429, retry_after=0.05)
    await harness.receive("status", user=asker, key="status-429")
    [status] = harness.public()
    assert "day1" in status.text  # the status itself, in the channel, after one retry
    assert harness.private(asker) == []


async def test_a_5xx_from_the_platform_is_retried_and_the_answer_arrives(harness: Harness) -> None:
    asker = harness.user("rel")
    harness.fail_next("post", 503)
    await harness.receive("status", user=asker, key="status-503")
    [status] = harness.public()
    assert "day1" in status.text
    assert harness.private(asker) == []


async def test_a_channel_answering_non_json_is_told_to_the_asker_in_plain_words(harness: Harness) -> None:
    """A proxy answers the channel's posts with an HTML 502 page, again and again: the asker gets the answer
    privately (with why, where the transport can say so), and no HTML, exception name or 'internal error'."""
    asker = harness.user("rel")
    harness.fail_next("post", 502, html=True, times=8)
    await harness.receive("status", user=asker, key="status-502")
    assert harness.public() == []
    told = harness.private(asker)
    assert told and any("day1" in t for t in told)
    honest(told)


async def open_card(harness: Harness, *keys: str) -> tuple[str, list[Msg]]:
    for key in keys:
        await harness.receive("signoff pre", user=harness.user("tech"), key=key)
    request = SignoffService(harness.chatops.store, harness.chatops.checklist).latest("pre")
    assert request is not None
    return request.id, harness.public()


async def test_a_click_on_a_moved_card_updates_the_current_card_and_never_revives_the_old(harness: Harness) -> None:
    lead = harness.user("tech")
    request, (old, current) = await open_card(harness, "card-1", "card-2")
    assert "moved" in old.text.lower() and old.buttons == 0 and current.buttons > 0
    await harness.click_signoff(lead, request, "tech_lead", "approve", on=old, key="click-old")
    old, current = harness.public()
    assert "moved" in old.text.lower() and old.buttons == 0  # still a pointer: one live card, not two
    assert "approved by" in current.text.lower()


async def test_a_decision_the_card_cannot_show_is_told_privately_and_repaired_next_time(harness: Harness) -> None:
    lead, other = harness.user("tech"), harness.user("devops")
    request, [card] = await open_card(harness, "card-1")
    harness.fail_next("update", 500, times=12)  # every retry of the card's update fails
    await harness.click_signoff(lead, request, "tech_lead", "approve", on=card, key="click-1")
    [card] = harness.public()
    assert "approved by" not in card.text.lower()  # the channel still sees it waiting ...
    told = harness.private(lead)
    assert any("recorded" in t and "could not be updated" in t for t in told), told  # ... and the clicker knows
    honest(told)
    harness.clear_failures()
    await harness.click_signoff(other, request, "devops_lead", "approve", on=card, key="click-2")
    [card] = harness.public()
    assert card.text.lower().count("approved by") >= 2  # the next update shows both decisions


async def test_a_redelivered_click_is_ignored(harness: Harness) -> None:
    lead = harness.user("tech")
    request, [card] = await open_card(harness, "card-1")
    await harness.click_signoff(lead, request, "tech_lead", "approve", on=card, key="click-1")
    [card] = harness.public()
    edits = len(card.history)
    await harness.click_signoff(lead, request, "tech_lead", "approve", on=card, key="click-1")  # sent again
    [card] = harness.public()
    assert len(card.history) == edits
    assert len(harness.chatops.store.audit_log(action="signoff.approved")) <= 1
