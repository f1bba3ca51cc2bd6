"""Announcements and alerts posted by the bot itself into the configured Teams channel.

The same thread model as Slack: a promotion starts a new thread in the channel (its root is kept in
the store's messages table under the event's subject, transport "teams"); later events about the phase
reply in that thread — alerts, escalations, the all-clear (which also closes the opened alert's card,
taking its buttons away), a rollback. An alert with no announcement before it starts the thread itself.
Each message's row keeps the conversation it was posted in, so it can be updated later.
"""

from __future__ import annotations

import asyncio

from microsoft_agents.activity import ConversationReference

from bot.events import AlertEvent, Announcement, Event, RunReported
from bot.store import MessageRef
from bot.teams.cardkit import Card
from bot.teams.event_cards import alert_closed_card, render_event
from bot.teams.ids import TRANSPORT
from bot.teams.proactive import Proactive
from bot.teams.references import References, base_conversation, configured_reference, thread_conversation

PARENT = "parent"


class TeamsChannelUnknown(RuntimeError):
    """The bot has never heard from the configured channel and no service URL is configured."""


class TeamsNotifier:
    """bot.events.Notifier for Teams: renders the event as a card and posts it via continue_conversation."""

    def __init__(self, proactive: Proactive, references: References, *, channel: str,
                 service_url: str | None = None, tenant_id: str | None = None) -> None:
        self.proactive = proactive
        self.references = references
        self.store = references.store
        self.channel = base_conversation(channel)
        self.service_url = service_url
        self.tenant_id = tenant_id

    async def publish(self, event: Event) -> None:
        card = await asyncio.to_thread(render_event, event, self.references.name)
        parent = await self._find(event.subject, PARENT)
        if isinstance(event, Announcement):
            if event.kind == "promoted" or parent is None:
                await self._post(card, event.subject, PARENT)
            else:
                await self._post(card, event.subject, f"announce:{event.kind}", parent)
            return
        if isinstance(event, RunReported):
            await self._post(card, event.subject, PARENT)
            return
        if not isinstance(event, AlertEvent):
            return
        incident = f"alert:{event.incident_id}"
        if parent is None:
            ref = await self._post(card, event.subject, PARENT)
            await self._remember(ref, incident)
        elif event.state == "opened":
            await self._post(card, event.subject, incident, parent)
        else:
            await self._post(card, event.subject, f"{incident}:{event.state}", parent)
            if event.state == "resolved" and (opened := await self._find(event.subject, incident)) is not None:
                closed = await asyncio.to_thread(alert_closed_card, event, self.references.name)
                await self._update(opened, closed)

    # -- posting ----------------------------------------------------------------------------------------
    async def _post(self, card: Card, subject: str, purpose: str, parent: MessageRef | None = None) -> MessageRef:
        """A new thread in the channel, or a reply in `parent`'s thread; the message is remembered."""
        conversation = thread_conversation(self.channel, parent.ts) if parent else self.channel
        message_id = await self.proactive.post(await self._reference(conversation), card)
        ref = MessageRef(subject=subject, transport=TRANSPORT, purpose=purpose, channel=conversation,
                         ts=message_id, thread_ts=parent.ts if parent else None)
        if message_id:
            await self._remember(ref, purpose)
        return ref

    async def _update(self, message: MessageRef, card: Card) -> None:
        await self.proactive.update(await self._reference(message.channel), message.ts, card)

    async def _remember(self, ref: MessageRef, purpose: str) -> None:
        if ref.ts:
            await asyncio.to_thread(self.store.remember_message, subject=ref.subject, transport=TRANSPORT,
                                    purpose=purpose, channel=ref.channel, ts=ref.ts, thread_ts=ref.thread_ts)

    async def _find(self, subject: str, purpose: str) -> MessageRef | None:
        return await asyncio.to_thread(self.store.message, subject, TRANSPORT, purpose)

    async def _reference(self, conversation: str) -> ConversationReference:
        reference = await asyncio.to_thread(self.channel_reference)
        reference.conversation.id = conversation
        return reference

    def channel_reference(self) -> ConversationReference:
        """Where the channel lives (service URL, tenant, bot account): as last heard from it, else as
        configured."""
        reference = self.references.reference(self.channel)
        if reference is not None:
            return reference
        if self.service_url:
            return configured_reference(self.channel, self.service_url, app_id=self.proactive.app_id or None,
                                        tenant_id=self.tenant_id)
        raise TeamsChannelUnknown(
            f"golive has not heard from the Teams channel {self.channel} yet: @mention it there once "
            "(`@golive help`), or set TEAMS_SERVICE_URL")
