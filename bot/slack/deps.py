"""What every Slack listener needs, passed explicitly to `register(app, deps)` (no globals)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.chatops.service import ChatOps, RolloutHook
from bot.locks import LockUnavailable
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.slack.poster import SlackPoster
from bot.store import Store


class TaskTracker:
    """The bot's own background work (runs after an ack), so shutdown can interrupt it cleanly."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    def track_current(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def cancel_all(self, timeout: float = 10.0) -> None:
        pending = [t for t in self.tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(pending, timeout=timeout)


@dataclass
class SlackDeps:
    chatops: ChatOps
    client: AsyncWebClient
    poster: SlackPoster
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
        """False when this request (same trigger / action_ts) was already handled: Slack redelivered it.
        If the claim store is down we act anyway; locks and exactly-once records still protect us."""
        try:
            return await self.chatops.locks.claim_once(f"slack:{key}")
        except LockUnavailable:
            return True
