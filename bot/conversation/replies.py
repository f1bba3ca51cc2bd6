"""Who sees a ChatOps reply, decided once for every transport: shared results (status, a sign-off card)
go to the channel and are remembered; everything personal (help, history, refusals, 'already running',
a gate's refusal of a promotion) is private to the person who asked."""

from __future__ import annotations

from typing import Any

from bot.chatops.replies import Denied, Failed, HelpReply, HistoryReply, Notice, RunBusy, SignoffOpened
from bot.conversation.base import Conversation
from bot.rollout.models import RolloutResult
from bot.runs.status import StatusOverview

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


async def deliver_reply(conversation: Conversation, reply: Any, *, channel: str, user: str) -> bool:
    """Post a public reply in the channel (privately to the asker if the channel refuses), a private one
    to the asker alone. False when the person could not be told at all."""
    if not is_private(reply):
        subject, purpose = public_place(reply) or ("", "reply")
        if await conversation.post(reply, channel=channel, subject=subject, purpose=purpose) is not None:
            return True
    return await conversation.notice(reply, channel=channel, user=user)
