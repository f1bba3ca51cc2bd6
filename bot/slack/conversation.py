"""Slack's implementation of the conversation interface: chat.postMessage (threads by thread_ts, with
reply_broadcast), chat.update, and chat.postEphemeral for private notices. Retries (429 after its
Retry-After, 5xx, dropped connections) are the Web API client's (bot.slack.client); posts are paced
per channel (Slack allows about one message per second per channel, with short bursts)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.base import Conversation
from bot.conversation.pacing import SLACK_PACING, Pacer, pacer_for
from bot.settings import Settings
from bot.slack.ids import TRANSPORT
from bot.slack.poster import slack_error
from bot.slack.render import render
from bot.slack.views.blocks import SlackMessage
from bot.store import MessageRef, Store


def slack_pacer(settings: Settings) -> Pacer:
    return pacer_for(SLACK_PACING, interval=settings.post_interval, burst=settings.post_burst)


class SlackConversation(Conversation):
    transport = TRANSPORT

    def __init__(self, client: AsyncWebClient, store: Store, *, pacer: Pacer | None = None) -> None:
        super().__init__(store, pacer=pacer or Pacer(burst=SLACK_PACING.burst, interval=SLACK_PACING.interval))
        self.client = client

    async def render(self, view: Any) -> SlackMessage:
        return render(view)

    def describe(self, exc: Exception) -> str:
        return slack_error(exc)

    async def deliver_post(self, message: SlackMessage, *, channel: str, thread: MessageRef | None,
                           broadcast: bool) -> tuple[str, str]:
        resp = await self.client.chat_postMessage(channel=thread.channel if thread else channel,
                                                  thread_ts=thread.ts if thread else None,
                                                  reply_broadcast=True if broadcast else None,
                                                  unfurl_links=False, unfurl_media=False, **message.payload())
        return str(resp["channel"]), str(resp["ts"])

    async def deliver_update(self, ref: MessageRef, message: SlackMessage) -> None:
        await self.client.chat_update(channel=ref.channel, ts=ref.ts, **message.payload())

    async def deliver_notice(self, message: SlackMessage, *, channel: str, user: str) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, **message.payload())

    # -- the SlackPoster calls the listeners make ------------------------------------------------------
    async def post(self, view: Any, *, channel: str, thread: MessageRef | None = None, subject: str | None = "",
                   purpose: str = "parent", broadcast: bool = False, paced: bool = True,
                   thread_ts: str | None = None) -> MessageRef | None:
        if thread is None and thread_ts:
            thread = MessageRef(subject or "", TRANSPORT, "parent", channel, thread_ts, None)
        return await super().post(view, channel=channel, thread=thread, subject=subject or "", purpose=purpose,
                                  broadcast=broadcast, paced=paced)

    async def ephemeral(self, *, channel: str, user: str, message: Any) -> bool:
        return await self.notice(message, channel=channel, user=user)
