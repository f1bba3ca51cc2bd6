"""Moved to bot.conversation.throttle (shared by every transport)."""

from bot.conversation.throttle import ThrottledUpdate

__all__ = ["ThrottledUpdate"]
