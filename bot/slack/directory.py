"""Slack user-group membership (usergroups.users.list), cached so a burst of clicks costs one call."""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.poster import slack_error

log = logging.getLogger("golive.slack")


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, ttl: float = 300.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def group_members(self, group_id: str) -> frozenset[str]:
        """Members of a user group; empty (fail closed, not cached) when Slack cannot tell us."""
        cached = self._cache.get(group_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self._locks.setdefault(group_id, asyncio.Lock()):
            cached = self._cache.get(group_id)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            try:
                resp = await self.client.usergroups_users_list(usergroup=group_id)
            except Exception as exc:
                log.warning("usergroups.users.list %s failed: %s", group_id, slack_error(exc))
                return frozenset()
            members = frozenset(resp.get("users") or [])
            self._cache[group_id] = (time.monotonic() + self.ttl, members)
            return members
