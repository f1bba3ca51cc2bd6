"""Speaking without being spoken to: the SDK's continue_conversation with a stored reference. Used by the
conversation layer (runs, alerts, announcements, private notices) for everything after the HTTP answer.

A failure inside the turn is caught there and raised to the caller after the turn: the adapter's turn
error handler would otherwise see it (and could post it into the channel), and the caller could not retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
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

    async def _run_raising(self, reference: ConversationReference, callback: Callback) -> None:
        failures: list[BaseException] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await callback(context)
            except Exception as exc:
                failures.append(exc)

        await self.run(reference, guarded)
        if failures:
            raise failures[0]

    async def _turn(self, reference: ConversationReference, callback: Callback, raising: bool) -> None:
        """`raising`: the caller handles failures (the conversation layer retries and reports them); else
        they go to the adapter's turn error handler, which says so in one plain line."""
        if raising:
            await self._run_raising(reference, callback)
        else:
            await self.run(reference, callback)

    async def post(self, reference: ConversationReference, content: Card | str, *, raising: bool = False) -> str:
        """Post one card (or one plain line); returns the new message's id ("" when the channel did not say)."""
        ids: list[str] = []

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(content if isinstance(content, str) else card_message(content))
            ids.append(response.id or "" if response else "")

        await self._turn(reference, send, raising)
        return ids[0] if ids else ""

    async def update(self, reference: ConversationReference, message_id: str, content: Card, *,
                     raising: bool = False) -> None:
        """Replace the card of a message posted earlier in the referenced conversation."""

        async def replace(context: TurnContext) -> None:
            await context.update_activity(card_message(content, activity_id=message_id))

        await self._turn(reference, replace, raising)

    async def post_personal(self, reference: ConversationReference, account_id: str, content: Card | str) -> str:
        """Post one card in the bot's 1:1 chat with `account_id` (created, or found, by the connector): the
        private answer Teams offers, as a channel has no messages only one person sees."""
        ids: list[str] = []

        async def send(context: TurnContext) -> None:
            key = getattr(self.adapter, "_AGENT_CONNECTOR_CLIENT_KEY", "ConnectorClient")
            connector: Any = context.turn_state.get(key)
            if connector is None:
                raise RuntimeError("no connector client in this turn")
            tenant = reference.conversation.tenant_id if reference.conversation else None
            created = await connector.conversations.create_conversation(ConversationParameters(
                is_group=False, agent=reference.agent, members=[ChannelAccount(id=account_id)], tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}} if tenant else None))
            message = Activity(type="message", text=content) if isinstance(content, str) else card_message(content)
            message.conversation = ConversationAccount(id=created.id)
            response = await connector.conversations.send_to_conversation(created.id, message)
            ids.append(response.id or "" if response else "")

        await self._run_raising(reference, send)
        return ids[0] if ids else ""
