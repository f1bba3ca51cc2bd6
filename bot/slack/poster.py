"""Posting and updating messages, each remembered in the store under its subject (run id, sign-off
request id, rollout subject) and purpose, so a restarted bot keeps editing the same message and thread."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.ids import TRANSPORT
from bot.slack.views.blocks import SlackMessage
from bot.store import MessageRef, Store
from checks.masking import mask

log = logging.getLogger("golive.slack")


def slack_error(exc: Exception) -> str:
    """The Slack error code (e.g. `not_in_channel`), never the request or its token. An answer that is not
    Slack's JSON (a 500 text/plain page from a proxy, a 405) has no code: it reads `http_<status>`."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        data = getattr(response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return mask(str(data["error"]))
        status = getattr(response, "status_code", None)
        return f"http_{status}" if isinstance(status, int) and status >= 300 else "unknown_error"
    return mask(f"{type(exc).__name__}: {exc}")


INVITE_ERRORS = frozenset({"not_in_channel", "channel_not_found"})


def not_posted_note(error: str | None) -> str:
    """One sentence for the person whose message could not go to the channel, saying what to do."""
    if error in INVITE_ERRORS:
        return f"(I could not post in this channel: {error}; invite me with `/invite @golive`.)"
    if error and error.startswith("http_"):
        error = f"Slack answered HTTP {error.removeprefix('http_')}"
    return f"(I could not post in this channel ({error or 'no answer from Slack'}); nothing was posted there. " \
           f"Try again in a minute.)"


class SlackPoster:
    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self.client = client
        self.store = store
        self.last_error: str | None = None

    async def find(self, subject: str, purpose: str = "parent") -> MessageRef | None:
        return await asyncio.to_thread(self.store.message, subject, TRANSPORT, purpose)

    async def post(self, message: SlackMessage, *, channel: str, subject: str | None = None,
                   purpose: str = "parent", thread_ts: str | None = None, broadcast: bool = False,
                   ) -> MessageRef | None:
        """chat.postMessage; None (and `last_error`) when Slack refused, e.g. the bot is not in the channel."""
        try:
            resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                                      reply_broadcast=True if broadcast else None,
                                                      unfurl_links=False, unfurl_media=False, **message.payload())
        except Exception as exc:  # Slack down or refusing: the caller decides what to tell the user
            self.last_error = slack_error(exc)
            log.warning("chat.postMessage to %s failed: %s", channel, self.last_error)
            return None
        ref = MessageRef(subject=subject or "", transport=TRANSPORT, purpose=purpose, channel=resp["channel"],
                         ts=resp["ts"], thread_ts=thread_ts)
        if subject:
            await asyncio.to_thread(self.store.remember_message, subject=subject, transport=TRANSPORT,
                                    purpose=purpose, channel=ref.channel, ts=ref.ts, thread_ts=thread_ts)
        return ref

    async def remember(self, ref: MessageRef, *, subject: str, purpose: str) -> None:
        """Remember an already-posted message under another purpose too (an alert that is also a parent)."""
        await asyncio.to_thread(self.store.remember_message, subject=subject, transport=TRANSPORT, purpose=purpose,
                                channel=ref.channel, ts=ref.ts, thread_ts=ref.thread_ts)

    async def update(self, ref: MessageRef, message: SlackMessage) -> bool:
        try:
            await self.client.chat_update(channel=ref.channel, ts=ref.ts, **message.payload())
        except Exception as exc:
            self.last_error = slack_error(exc)
            log.warning("chat.update of %s/%s failed: %s", ref.channel, ref.ts, self.last_error)
            return False
        return True

    async def ephemeral(self, *, channel: str, user: str, message: SlackMessage) -> bool:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, **message.payload())
        except Exception as exc:
            self.last_error = slack_error(exc)
            log.warning("chat.postEphemeral to %s failed: %s", channel, self.last_error)
            return False
        return True
