"""Announcements and alerts posted by the bot itself into the configured Teams channel: the shared event
router (bot.conversation.router) over Teams' conversation. A promotion starts a new thread in the channel;
later events about the phase reply in that thread; each message is remembered (transport "teams") with the
conversation it was posted in, so it can be updated later.
"""

from __future__ import annotations

from microsoft_agents.activity import ConversationReference

from bot.announcements.events import Event
from bot.conversation.router import EventRouter
from bot.teams.conversation import TeamsChannelUnknown, TeamsConversation
from bot.teams.proactive import Proactive
from bot.teams.references import References, base_conversation

PARENT = "parent"

__all__ = ["PARENT", "TeamsChannelUnknown", "TeamsNotifier"]


class TeamsNotifier(EventRouter):
    """bot.announcements.events.Notifier for Teams."""

    def __init__(self, proactive: Proactive | TeamsConversation, references: References | None = None, *,
                 channel: str, service_url: str | None = None, tenant_id: str | None = None) -> None:
        if isinstance(proactive, TeamsConversation):
            conversation = proactive
        else:
            assert references is not None
            conversation = TeamsConversation(proactive, references, service_url=service_url, tenant_id=tenant_id)
        super().__init__(conversation, base_conversation(channel))
        self.teams = conversation

    async def publish(self, event: Event) -> None:
        await self.channel_reference()  # TeamsChannelUnknown, with what to do, before anything is tried
        await super().publish(event)

    async def channel_reference(self) -> ConversationReference:
        return await self.teams.reference(self.channel or "")
