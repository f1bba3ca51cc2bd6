"""Where the bot's own events go, for every transport (bot.announcements.events.Notifier).

A promotion opens a new parent message for its phase; later events about the phase reply in that thread:
alerts, escalations (broadcast to the channel), the all-clear, a rollback or pause. An alert with no
announcement before it starts the thread itself. Buttons that can no longer do anything are taken away:
the all-clear closes its opened alert, and a rollback closes every alert of the phase it rolled back.
A gate's refusal of what a person asked for is theirs alone (they got it as their private answer); only
the watch's own failed rollback is announced.
"""

from __future__ import annotations

import logging

from bot.announcements.events import AlertEvent, Announcement, ChannelNotice, Event, RunReported
from bot.conversation.base import Conversation, DeliveryError
from bot.conversation.views import AlertClosed, Line
from bot.rollout.watch import WATCH_ACTOR
from bot.store import MessageRef

log = logging.getLogger("golive.conversation")

PARENT = "parent"


class EventRouter:
    def __init__(self, conversation: Conversation, channel: str | None) -> None:
        self.conversation = conversation
        self.channel = channel

    async def publish(self, event: Event) -> None:
        if not self.channel:
            log.warning("%s: no release channel configured: %s not posted", self.conversation.transport,
                        type(event).__name__)
            return
        if isinstance(event, Announcement):
            await self._announce(event)
        elif isinstance(event, AlertEvent):
            await self._alert(event)
        elif isinstance(event, RunReported):
            await self._post(event, subject=event.subject, purpose=PARENT)
        elif isinstance(event, ChannelNotice):  # plain text: the same words in every transport
            parent = await self.conversation.find(event.thread_subject, PARENT) if event.thread_subject else None
            ref = await self.conversation.post(Line(event.text), channel=parent.channel if parent else self.channel,
                                               thread=parent, subject=event.subject, purpose=event.purpose)
            if ref is None:
                raise DeliveryError(f"{self.conversation.transport} refused the {event.kind} message: "
                                    f"{self.conversation.last_error}")
            event.delivered.append(ref)

    async def _post(self, event: Event, *, subject: str, purpose: str, parent: MessageRef | None = None,
                    broadcast: bool = False) -> MessageRef:
        ref = await self.conversation.post(event, channel=parent.channel if parent else self.channel or "",
                                           thread=parent, subject=subject, purpose=purpose, broadcast=broadcast)
        if ref is None:
            raise DeliveryError(f"{self.conversation.transport} refused the {purpose} message: "
                                f"{self.conversation.last_error}")
        return ref

    async def _announce(self, event: Announcement) -> None:
        if event.kind == "refused" and event.actor != WATCH_ACTOR:
            return  # a person asked: the refusal and its reasons went to them alone (and to the audit log)
        parent = await self.conversation.find(event.subject, PARENT)
        if event.kind == "promoted" or parent is None:
            await self._post(event, subject=event.subject, purpose=PARENT)
        else:
            await self._post(event, subject=event.subject, purpose=f"announce:{event.kind}", parent=parent,
                             broadcast=True)
        if event.kind == "rolled_back":
            await self._close_alerts(event.subject, f"rolled back by {event.actor}")

    async def _alert(self, event: AlertEvent) -> None:
        incident = f"alert:{event.incident_id}"
        parent = await self.conversation.find(event.subject, PARENT)
        if parent is None:  # no announcement for this phase yet: the alert itself starts the thread
            ref = await self._post(event, subject=event.subject, purpose=PARENT)
            await self.conversation.remember(ref, subject=event.subject, purpose=incident)
            return
        if event.state == "opened":
            await self._post(event, subject=event.subject, purpose=incident, parent=parent)
            return
        await self._post(event, subject=event.subject, purpose=f"{incident}:{event.state}", parent=parent,
                         broadcast=event.state == "escalated")
        if event.state == "resolved" and (opened := await self.conversation.find(event.subject, incident)):
            await self.conversation.update(opened, AlertClosed(event.incident_id, event.phase, event))

    async def _close_alerts(self, subject: str, why: str) -> None:
        """A rollback makes the phase's open alerts moot: their Roll back / Keep going buttons go."""
        refs = await self.conversation.messages(subject)
        purposes = {r.purpose for r in refs}
        for ref in refs:
            parts = ref.purpose.split(":")
            if len(parts) != 2 or parts[0] != "alert":
                continue
            if {f"{ref.purpose}:resolved", f"{ref.purpose}:closed"} & purposes:
                continue
            phase = subject.rsplit(":", 1)[-1]
            if await self.conversation.update(ref, AlertClosed(parts[1], phase, why=why)):
                await self.conversation.remember(ref, subject=subject, purpose=f"{ref.purpose}:closed")
