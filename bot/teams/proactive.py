"""Speaking without being spoken to: the SDK's continue_conversation with a stored reference. Used by the
notifier (alerts, announcements) and by runs that outlive the request that started them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import Activity, ConversationReference
from microsoft_agents.hosting.core import ChannelServiceAdapter, ClaimsIdentity, TurnContext

from bot.teams.cardkit import Card, card_message

Callback = Callable[[TurnContext], Awaitable[Any]]


def continuation_activity(reference: ConversationReference) -> Activity:
    """The SDK's continuation event, minus its random id: with an id, every send in the turn would become
    a reply to that (non-existent) activity instead of a post to the conversation."""
    activity = reference.get_continuation_activity()
    activity.id = None
    return activity


class Proactive:
    def __init__(self, adapter: ChannelServiceAdapter, *, app_id: str | None, anonymous: bool) -> None:
        self.adapter = adapter
        self.app_id = app_id or ""
        self.anonymous = anonymous

    async def run(self, reference: ConversationReference, callback: Callback) -> None:
        """Run `callback` in a turn of the referenced conversation. Without an app password (local and test
        setups) the turn is anonymous, so the SDK neither asks for nor sends a token."""
        activity = continuation_activity(reference)
        if self.anonymous:
            await self.adapter.continue_conversation_with_claims(ClaimsIdentity(), activity, callback)
        else:
            await self.adapter.continue_conversation(self.app_id, activity, callback)

    async def post(self, reference: ConversationReference, content: Card) -> str:
        """Post one card; returns the new message's id ("" when the channel did not say)."""
        ids: list[str] = []

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(card_message(content))
            ids.append(response.id or "" if response else "")

        await self.run(reference, send)
        return ids[0] if ids else ""

    async def update(self, reference: ConversationReference, message_id: str, content: Card) -> None:
        """Replace the card of a message posted earlier in the referenced conversation."""

        async def replace(context: TurnContext) -> None:
            await context.update_activity(card_message(content, activity_id=message_id))

        await self.run(reference, replace)
