"""Gives ChatOps the rollout service behind `promote <phase>`, `rollback [reason]`, `resume` (and any other
rollout verb): the verbs and their handlers are declared in `bot.chatops.commands`; the handlers check the
access table, then call the service, whose notifier announces the change in the release channel(s)."""

from __future__ import annotations

from bot.chatops.service import ChatOps
from bot.rollout.service import RolloutService


def install(chatops: ChatOps, service: RolloutService) -> None:
    """Give ChatOps the rollout service (without it, a rollout verb says the checklist has no rollout plan)."""
    chatops.notifier = service.notifier  # waivers witness the audit head in the same release channel(s)
    chatops.rollout = service
