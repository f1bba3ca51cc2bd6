"""Teams' implementation of the conversation interface, over the SDK's proactive turns.

A "channel" here is a conversation id: a Teams channel (`19:…@thread.tacv2`) or one of its threads
(`…;messageid=<root>`). A reply in a thread goes to the thread's conversation. A private notice goes to
the person's 1:1 chat with the bot (a channel has no message only one person sees). Every call is retried
on 429 (after the connector's Retry-After) and on 5xx; posts are paced per conversation.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from microsoft_agents.activity import ConversationReference

from bot.conversation.base import Conversation, DeliveryError
from bot.conversation.pacing import TEAMS_PACING, Pacer, pacer_for
from bot.conversation.retry import Retryable, RetryPolicy, retry_after
from bot.conversation.views import Line
from bot.settings import Settings
from bot.store import MessageRef
from bot.teams import cards
from bot.teams import views as _views  # noqa: F401  (registers the conversation views on cards.render)
from bot.teams.cardkit import Card
from bot.teams.ids import TRANSPORT
from bot.teams.proactive import Proactive
from bot.teams.references import References, base_conversation, configured_reference, thread_conversation
from checks.masking import mask


class TeamsChannelUnknown(DeliveryError):
    """The bot has never heard from the conversation and no service URL is configured."""


def teams_pacer(settings: Settings) -> Pacer:
    return pacer_for(TEAMS_PACING, interval=settings.post_interval, burst=settings.post_burst)


def retryable(exc: BaseException) -> BaseException:
    """The connector's 429 and 5xx answers, and dropped connections, become `Retryable`."""
    if isinstance(exc, aiohttp.ClientResponseError):
        if exc.status == 429:
            wait = exc.headers.get("Retry-After") if exc.headers else None
            return Retryable("throttled (429)", after=retry_after(wait))
        if exc.status >= 500:
            return Retryable(f"connector error {exc.status}")
    if isinstance(exc, aiohttp.ClientConnectionError | asyncio.TimeoutError):
        return Retryable(type(exc).__name__)
    return exc


def thread_of(parent: MessageRef) -> str:
    """The conversation replies to `parent` go to: its own thread if it is in one, else a new one under it."""
    if ";messageid=" in parent.channel:
        return parent.channel
    return thread_conversation(parent.channel, parent.ts)


class TeamsConversation(Conversation):
    transport = TRANSPORT

    def __init__(self, proactive: Proactive, references: References, *, pacer: Pacer | None = None,
                 retry: RetryPolicy | None = None, service_url: str | None = None,
                 tenant_id: str | None = None) -> None:
        super().__init__(references.store, pacer=pacer or Pacer(burst=TEAMS_PACING.burst,
                                                                interval=TEAMS_PACING.interval))
        self.proactive = proactive
        self.references = references
        self.retry = retry or RetryPolicy()
        self.service_url = service_url
        self.tenant_id = tenant_id

    async def render(self, view: Any) -> Card | str:
        if isinstance(view, dict):  # a card already built
            return view
        if isinstance(view, Line):  # no card at all: one plain line
            return view.text
        return await asyncio.to_thread(cards.render, view, self.references.name)

    def describe(self, exc: Exception) -> str:
        if isinstance(exc, aiohttp.ClientResponseError):
            return f"Teams answered HTTP {exc.status}"
        if isinstance(exc, DeliveryError):
            return str(exc)
        return mask(type(exc).__name__)

    def pace_key(self, channel: str) -> str:
        return channel

    async def reference(self, conversation: str) -> ConversationReference:
        """Where `conversation` lives (service URL, tenant, bot account): as last heard from, else as configured."""
        reference = await asyncio.to_thread(self.references.reference, conversation)
        if reference is None:
            if not self.service_url:
                raise TeamsChannelUnknown(
                    f"golive has not heard from the Teams channel {base_conversation(conversation)} yet: @mention "
                    "it there once (`@golive help`), or set TEAMS_SERVICE_URL")
            reference = configured_reference(conversation, self.service_url, app_id=self.proactive.app_id or None,
                                             tenant_id=self.tenant_id)
        reference.conversation.id = conversation
        return reference

    async def call(self, what: str, make: Any) -> Any:
        """`make()` retried on a 429 (after its Retry-After), a 5xx or a dropped connection; then its error."""
        async def attempt() -> Any:
            try:
                return await make()
            except Exception as exc:
                mapped = retryable(exc)
                if mapped is exc:
                    raise
                raise mapped from exc

        try:
            return await self.retry.call(attempt, what=what)
        except Retryable as exc:
            raise (exc.__cause__ if isinstance(exc.__cause__, Exception) else exc) from None

    async def deliver_post(self, message: Card, *, channel: str, thread: MessageRef | None,
                           broadcast: bool) -> tuple[str, str]:
        conversation = thread_of(thread) if thread else channel
        reference = await self.reference(conversation)
        message_id = await self.call("post", lambda: self.proactive.post(reference, message, raising=True))
        return conversation, message_id

    async def deliver_update(self, ref: MessageRef, message: Card) -> None:
        reference = await self.reference(ref.channel)
        await self.call("update", lambda: self.proactive.update(reference, ref.ts, message, raising=True))

    async def deliver_notice(self, message: Card, *, channel: str, user: str) -> None:
        account = await asyncio.to_thread(self.references.account, user)
        if not account:
            raise DeliveryError(f"golive has no private chat with {self.references.name(user)} yet")
        reference = await self.reference(channel)
        await self.call("private notice", lambda: self.proactive.post_personal(reference, account, message))
