"""Posting rollout events by themselves (bot.events.Notifier): announcements in the release channel,
alerts threaded under their rollout phase's message, every message remembered for later updates."""

from __future__ import annotations

import logging

from bot.events import AlertEvent, Announcement, Event, RunReported
from bot.slack.poster import SlackPoster
from bot.slack.views.blocks import SlackMessage
from bot.slack.views.rollout import alert_closed_message, alert_message, announcement_message
from bot.slack.views.run import run_report_message
from bot.store import MessageRef

log = logging.getLogger("golive.slack")


class SlackNotifierError(RuntimeError):
    """Slack refused an event's message (FanoutNotifier records it and carries on)."""


class SlackNotifier:
    """`await SlackNotifier(poster, channel).publish(event)`; the poster is `deps.poster` of a running
    bot, or `SlackPoster(build_web_client(token, base_url), store)` on its own."""

    def __init__(self, poster: SlackPoster, channel: str | None) -> None:
        self.poster = poster
        self.channel = channel

    async def publish(self, event: Event) -> None:
        if not self.channel:
            log.warning("GOLIVE_SLACK_CHANNEL is not set: %s not posted to Slack", type(event).__name__)
            return
        if isinstance(event, Announcement):
            await self._announce(event)
        elif isinstance(event, AlertEvent):
            await self._alert(event)
        elif isinstance(event, RunReported):
            message = run_report_message(event)
            await self._post(message, subject=event.subject, purpose="parent")

    async def _post(self, message: SlackMessage, *, subject: str, purpose: str, parent: MessageRef | None = None,
                    broadcast: bool = False) -> MessageRef:
        ref = await self.poster.post(message, channel=parent.channel if parent else self.channel or "",
                                     thread_ts=parent.ts if parent else None, subject=subject, purpose=purpose,
                                     broadcast=broadcast)
        if ref is None:
            raise SlackNotifierError(f"Slack refused the {purpose} message: {self.poster.last_error}")
        return ref

    async def _announce(self, event: Announcement) -> None:
        """A promotion opens a new parent for its phase; later announcements about the phase (rollback,
        pause) go in that thread, broadcast to the channel so nobody misses them."""
        parent = await self.poster.find(event.subject, "parent")
        message = announcement_message(event)
        if event.kind == "promoted" or parent is None:
            await self._post(message, subject=event.subject, purpose="parent")
        else:
            await self._post(message, subject=event.subject, purpose=f"announce:{event.kind}", parent=parent,
                             broadcast=True)

    async def _alert(self, event: AlertEvent) -> None:
        """opened: one reply; escalated: a reply with the mention, broadcast; resolved: the all-clear,
        and the opened alert loses its buttons."""
        incident = f"alert:{event.incident_id}"
        parent = await self.poster.find(event.subject, "parent")
        if parent is None:  # no announcement for this phase yet: the alert itself starts the thread
            ref = await self._post(alert_message(event), subject=event.subject, purpose="parent")
            await self.poster.remember(ref, subject=event.subject, purpose=incident)
            return
        if event.state == "opened":
            await self._post(alert_message(event), subject=event.subject, purpose=incident, parent=parent)
            return
        await self._post(alert_message(event), subject=event.subject, purpose=f"{incident}:{event.state}",
                         parent=parent, broadcast=event.state == "escalated")
        if event.state == "resolved" and (opened := await self.poster.find(event.subject, incident)) is not None:
            await self.poster.update(opened, alert_closed_message(event))
