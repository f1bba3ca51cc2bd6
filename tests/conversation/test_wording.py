"""What people read about the rollout, in every transport: no "none promotion refused" or "none rolled
back" (no phase is said as such), and a gate's refusal of a person's request is theirs alone."""

from __future__ import annotations

import pytest

from bot.conversation.router import EventRouter
from bot.events import Announcement
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
