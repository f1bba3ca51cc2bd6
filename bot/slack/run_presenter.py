"""Following a run in a Slack channel is the shared run follower (bot.conversation.follower) over Slack's
conversation; these names stay for the callers that import them from here."""

from __future__ import annotations

from bot.conversation.follower import FINAL_KEY, RunFollower, complete_even_if_cancelled, show_final
from bot.slack.deps import SlackDeps


class RunPresenter(RunFollower):
    def __init__(self, deps: SlackDeps, channel: str) -> None:
        super().__init__(deps.poster, channel, interval=deps.progress_interval)
        self.deps = deps


__all__ = ["FINAL_KEY", "RunPresenter", "complete_even_if_cancelled", "show_final"]
