"""Who sees a ChatOps reply, decided once for every transport: shared results (status, a sign-off card)
go to the channel and are remembered; everything personal (help, history, refusals, 'already running',
a gate's refusal of a promotion) is private to the person who asked."""

from __future__ import annotations

from typing import Any

from bot.chatops.replies import (
    Denied,
    Failed,
    HelpReply,
    HistoryReply,
    Notice,
    RunBusy,
    SignoffDecided,
    SignoffOpened,
)
from bot.conversation.base import Conversation
from bot.conversation.views import Line, SignoffMoved
from bot.rollout.models import RolloutResult
from bot.runs.status import StatusOverview
from bot.store import MessageRef

PRIVATE = (Denied, Failed, Notice, RunBusy, HelpReply, HistoryReply, RolloutResult)


def is_private(reply: Any) -> bool:
    return isinstance(reply, PRIVATE)


def public_place(reply: Any) -> tuple[str, str] | None:
    """(subject, purpose) a public reply is remembered under, so it can be updated later."""
    if isinstance(reply, StatusOverview):
        return f"status:{reply.checklist}", "latest"
    if isinstance(reply, SignoffOpened):
        return reply.request.id, "card"
    return None


def recorded_not_shown(decision: str, problem: str | None) -> str:
    """What the person whose decision is stored but could not be shown on the card is told, privately."""
    done = {"approve": "approval", "reject": "rejection", "withdraw": "withdrawal"}.get(decision, decision)
    return (f"Your {done} is recorded, but the card could not be updated ({problem or 'no answer'}); it shows the "
            "decision at its next update, and `status` shows it now.")


async def deliver_reply(conversation: Conversation, reply: Any, *, channel: str, user: str,
                        clicked: MessageRef | None = None) -> bool:
    """Post a public reply in the channel (privately to the asker if the channel refuses), a private one
    to the asker alone. A card posted again leaves its older message as a pointer to it; a decision is
    shown on the current card (never on a moved one). False when the person could not be told at all."""
    if isinstance(reply, SignoffDecided):  # already decided (a double click): the clicker alone hears it
        if reply.recorded:
            return await show_decision(conversation, reply, channel=channel, user=user, clicked=clicked)
    elif not is_private(reply):
        subject, purpose = public_place(reply) or ("", "reply")
        reposted = isinstance(reply, SignoffOpened) and reply.reopened
        previous = await conversation.find(subject, purpose) if reposted else None
        ref = await conversation.post(reply, channel=channel, subject=subject, purpose=purpose)
        if ref is not None:
            if isinstance(reply, SignoffOpened) and previous is not None and previous.ts != ref.ts:
                await conversation.update(previous, SignoffMoved(reply.request, reply.stage, ref))
            return True
    return await conversation.notice(reply, channel=channel, user=user)


async def show_decision(conversation: Conversation, reply: SignoffDecided, *, channel: str, user: str,
                        clicked: MessageRef | None) -> bool:
    """Repaint the request's current card (the remembered one, else the clicked message) as a whole, so a
    failed update is repaired by the next one; the clicker is told privately when it could not be shown."""
    current = await conversation.find(reply.request.id, "card") or clicked
    if current is None or await conversation.update(current, reply):
        return True
    await conversation.notice(Line(recorded_not_shown(reply.decision, conversation.last_error)), channel=channel,
                              user=user)
    return False
