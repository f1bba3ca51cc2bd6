"""What every Slack listener needs, passed explicitly to `register(app, deps)` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.chatops.service import ChatOps, RolloutHook
from bot.conversation.pipeline import InboundPipeline
from bot.conversation.tasks import TaskTracker
from bot.services.desk import Desk
from bot.slack.conversation import SlackConversation
from bot.slack.directory import SlackDirectory
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
    desk: Desk | None = None  # the services this bot serves (None: `chatops` alone, a bot of one)
    pipeline: InboundPipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = InboundPipeline(self.desk or self.chatops, rollout_hook=lambda: self.on_rollout_action,
                                        tasks=self.tasks)

    @property
    def store(self) -> Store:
        return self.chatops.store

    def notifier(self) -> SlackNotifier:
        """The Slack notifier of this bot (bot.announcements.events.Notifier), posting in the release channel."""
        return SlackNotifier(self.poster, self.channel)
