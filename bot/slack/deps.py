"""What every Slack listener needs, passed explicitly to `register(app, deps)` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.chatops.service import ChatOps, RolloutHook
from bot.conversation.dedupe import first_delivery
from bot.conversation.tasks import TaskTracker
from bot.slack.conversation import SlackConversation
from bot.slack.directory import SlackDirectory
from bot.slack.ids import TRANSPORT
from bot.slack.notifier import SlackNotifier
from bot.store import Store

__all__ = ["SlackDeps", "TaskTracker"]


@dataclass
class SlackDeps:
    chatops: ChatOps
    client: AsyncWebClient
    poster: SlackConversation  # the conversation interface, with the SlackPoster calls listeners make
    directory: SlackDirectory
    channel: str | None = None  # the release channel for announcements and alerts
    progress_interval: float = 1.2
    on_rollout_action: RolloutHook | None = None
    tasks: TaskTracker = field(default_factory=TaskTracker)

    @property
    def store(self) -> Store:
        return self.chatops.store

    def notifier(self) -> SlackNotifier:
        """The Slack notifier of this bot (bot.events.Notifier), posting in the release channel."""
        return SlackNotifier(self.poster, self.channel)

    async def first_delivery(self, key: str) -> bool:
        """False when this request (same trigger / action_ts) was already handled: Slack redelivered it."""
        return await first_delivery(self.chatops.locks, TRANSPORT, key)
