"""Posting rollout events in Slack (bot.announcements.events.Notifier): the shared event router
(bot.conversation.router) over Slack's conversation. Kept as a name of its own for the callers that build one."""

from __future__ import annotations

from bot.conversation.base import DeliveryError
from bot.conversation.router import EventRouter
from bot.slack.conversation import SlackConversation
from bot.slack.poster import SlackPoster

SlackNotifierError = DeliveryError
"""Slack refused an event's message (FanoutNotifier records it and carries on)."""


class SlackNotifier(EventRouter):
    """`await SlackNotifier(conversation, channel).publish(event)`; the conversation is `deps.poster` of a
    running bot, or a `SlackPoster(build_web_client(token, base_url), store)` on its own."""

    def __init__(self, poster: SlackConversation | SlackPoster, channel: str | None) -> None:
        conversation = poster if isinstance(poster, SlackConversation) else SlackConversation(poster.client,
                                                                                              poster.store)
        super().__init__(conversation, channel)

    @property
    def poster(self) -> SlackConversation:
        return self.conversation  # type: ignore[return-value]  # this notifier is built with a SlackConversation
