"""What people read about the rollout, in every transport: no "none promotion refused" or "none rolled
back" (no phase is said as such), and a gate's refusal of a person's request is theirs alone."""

from __future__ import annotations

from typing import Any

import pytest

from bot.announcements.events import AlertEvent, Announcement
from bot.conversation.router import EventRouter
from bot.rollout.notify import render_event
from bot.rollout.watch import WATCH_ACTOR
from bot.slack.views.rollout import announcement_message
from bot.teams.event_cards import announcement_card
from tests.conversation.harness import Harness
from tests.teams.support import card_text

CASES = [
    (Announcement("rolled_back", "shop", "none", "U0REL", previous_phase="phase-1"),
     "phase-1 rolled back: every rollout flag is off"),
    (Announcement("rolled_back", "shop", "phase-1", "U0REL", previous_phase="phase-2"),
     "phase-2 rolled back to phase-1"),
    (Announcement("refused", "shop", "none", "U0REL", previous_phase=None), "rollout change refused"),
    (Announcement("refused", "shop", "phase-2", "U0REL", previous_phase="phase-1"), "promotion to phase-2 refused"),
    (Announcement("promoted", "shop", "phase-1", "U0REL", previous_phase="none"), "promoted to phase-1"),
]


@pytest.mark.parametrize(("event", "said"), CASES)
def test_every_transport_says_what_happened_without_a_phase_called_none(event: Announcement, said: str) -> None:
    shown = {"slack": announcement_message(event).text, "teams": card_text(announcement_card(event)),
             "terminal": render_event(event)}
    for transport, text in shown.items():
        assert said.lower() in text.lower(), (transport, text)
        assert "none " not in text.lower() and "(was none)" not in text, (transport, text)


async def test_a_gate_refusal_is_not_posted_for_everyone(harness: Harness) -> None:
    """The person who asked got the refusal and its reasons privately; the channel hears only of the
    watch's own failed rollback (nobody asked for that one)."""
    router = EventRouter(harness.conversation, harness.channel)
    checklist = harness.chatops.checklist.name
    await router.publish(Announcement("refused", checklist, "phase-2", "U0REL", reasons=["day3 not passed"],
                                      previous_phase="phase-1"))
    assert harness.public() == []
    await router.publish(Announcement("refused", checklist, "phase-1", WATCH_ACTOR,
                                      reasons=["rollback failed: provider down"]))
    [announced] = harness.public()
    assert "refused" in announced.text.lower() and "provider down" in announced.text


def shown_everywhere(event: Any) -> dict[str, str]:
    from bot.slack.views.rollout import alert_closed_message, alert_message
    from bot.teams.event_cards import alert_card, alert_closed_card

    if isinstance(event, Announcement):
        message = announcement_message(event)
        return {"slack": f"{message.text} {message.blocks}", "teams": card_text(announcement_card(event)),
                "terminal": render_event(event)}
    return {"slack": f"{alert_message(event).text} {alert_message(event).blocks}",
            "slack closed": f"{alert_closed_message(event).text} {alert_closed_message(event).blocks}",
            "teams": card_text(alert_card(event)), "teams closed": card_text(alert_closed_card(event)),
            "terminal": render_event(event)}


def test_the_watch_acting_alone_is_not_a_person_who_did_it() -> None:
    event = Announcement("blind", "shop", "phase-1", WATCH_ACTOR, reasons=["no metrics source"])
    for transport, text in shown_everywhere(event).items():
        assert "cannot evaluate some rules" in text, (transport, text)
        assert "by golive-watch" not in text and "by <@golive-watch>" not in text, (transport, text)


def test_a_person_is_named_where_the_notification_text_says_who() -> None:
    event = Announcement("rolled_back", "shop", "none", "U0REL", previous_phase="phase-1")
    text = announcement_message(event).text  # what Slack shows in the notification and the channel list
    assert "every rollout flag is off" in text
    assert "by U0REL" not in text and "<@U0REL>" in text  # Slack shows the person's name for <@U…>


def test_an_alert_closed_by_a_rollback_never_says_all_clear() -> None:
    event = AlertEvent("inc-1", "resolved", "P0", "health.ready", "closed by the rollback of phase-1 to none by "
                       "U0REL (was: 3 failed probes)", "shop", "phase-1", healthy=False)
    for transport, text in shown_everywhere(event).items():
        assert "all clear" not in text.lower() and "✅" not in text, (transport, text)
        assert "closed" in text.lower(), (transport, text)
    healthy = AlertEvent("inc-2", "resolved", "P0", "health.ready", "healthy again", "shop", "phase-1")
    assert "All clear" in shown_everywhere(healthy)["slack"]

