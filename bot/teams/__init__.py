"""The Microsoft Teams transport, on the Microsoft 365 Agents SDK: receives `golive …` messages and card
actions over POST /api/messages and renders what `bot.chatops` returns as Adaptive Cards. Parsing,
execution and access control are shared with Slack; only receiving and rendering live here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


def teams_enabled(settings: Settings) -> bool:
    """Teams is on when the bot has an app id (or runs anonymously for tests). Importable without the
    Agents SDK installed, so Slack-only deployments need not install it."""
    return bool(settings.teams_app_id or settings.teams_anonymous)
