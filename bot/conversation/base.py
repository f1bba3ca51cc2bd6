"""The conversation interface every transport implements, and the bookkeeping they share.

A transport subclasses `Conversation` and supplies four things: `render` (its renderer, by view type),
`deliver_post`, `deliver_update` and `deliver_notice`. Everything else (pacing posts per channel,
remembering each message under its subject and purpose so a restarted bot finds it again, turning a
failure into `None`/`False` plus `last_error` instead of an exception) lives here, once.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

from bot.conversation.pacing import NO_PACING, Pacer
from bot.runs.durable import Durability, patiently
from bot.store import MessageRef, Store, StoreUnavailable
from checks.masking import mask

log = logging.getLogger("golive.conversation")

REMEMBER_BUDGET = 600.0
"""Seconds a message's record is retried while the store is down (bot.conversation.base.Conversation.remember)."""
REMEMBER_FIRST_PAUSE = 0.5
"""Seconds before the second retry; each later one waits twice as long, up to 2 s (bot.runs.durable.patiently)."""
REMEMBERING: set[asyncio.Task[None]] = set()
"""Records being retried (held here so they are not garbage-collected mid-retry)."""


class DeliveryError(RuntimeError):
    """A transport could not deliver; the message is safe to show (no token, no raw body)."""


class Conversation(ABC):
    """Post, update, reply in a thread, tell one person privately; find a message again by subject."""

    transport: str = ""

    def __init__(self, store: Store, *, pacer: Pacer | None = None) -> None:
        self.store = store
        self.pacer = pacer or NO_PACING
        self.last_error: str | None = None

    # -- what a transport implements ---------------------------------------------------------------
    @abstractmethod
    async def render(self, view: Any) -> Any:
        """The transport's message for a view, a ChatOps reply or an event."""

    @abstractmethod
    async def deliver_post(self, message: Any, *, channel: str, thread: MessageRef | None,
                           broadcast: bool) -> tuple[str, str]:
        """Post; returns (channel, message id) as the service names them. Raises on failure."""

    @abstractmethod
    async def deliver_update(self, ref: MessageRef, message: Any) -> None:
        """Replace the message at `ref`. Raises on failure."""

    @abstractmethod
    async def deliver_notice(self, message: Any, *, channel: str, user: str) -> None:
        """Show `message` to `user` alone. Raises on failure."""

    def describe(self, exc: Exception) -> str:
        """A failure as a user may read it; transports refine it (Slack's error code, an HTTP status)."""
        return mask(f"{type(exc).__name__}: {exc}")

    def pace_key(self, channel: str) -> str:
        """The unit the service rate-limits posts by (a channel; Teams: the conversation)."""
        return channel

    # -- the interface the shared workflows use ----------------------------------------------------
    async def post(self, view: Any, *, channel: str, thread: MessageRef | None = None, subject: str = "",
                   purpose: str = "parent", broadcast: bool = False, paced: bool = True) -> MessageRef | None:
        """Post (in `thread` when given), remembered under subject/purpose; None and `last_error` on failure."""
        try:
            message = await self.render(view)
            if paced:
                await self.pacer.wait(self.pace_key(thread.channel if thread else channel))
            where, message_id = await self.deliver_post(message, channel=channel, thread=thread, broadcast=broadcast)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = self.describe(exc)
            log.warning("%s: posting %s in %s failed: %s", self.transport, purpose, channel, self.last_error)
            return None
        ref = MessageRef(subject=subject, transport=self.transport, purpose=purpose, channel=where, ts=message_id,
                         thread_ts=thread.ts if thread else None)
        if subject and message_id:
            await self.remember(ref, subject=subject, purpose=purpose)
        return ref

    async def update(self, ref: MessageRef, view: Any) -> bool:
        try:
            await self.deliver_update(ref, await self.render(view))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = self.describe(exc)
            log.warning("%s: updating %s/%s failed: %s", self.transport, ref.channel, ref.ts, self.last_error)
            return False
        return True

    async def notice(self, view: Any, *, channel: str, user: str) -> bool:
        """A private answer to one person (a refusal, help, 'already running')."""
        try:
            await self.deliver_notice(await self.render(view), channel=channel, user=user)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = self.describe(exc)
            log.warning("%s: private notice to %s failed: %s", self.transport, user, self.last_error)
            return False
        return True

    async def find(self, subject: str, purpose: str = "parent") -> MessageRef | None:
        return await asyncio.to_thread(self.store.message, subject, self.transport, purpose)

    async def remember(self, ref: MessageRef, *, subject: str, purpose: str) -> None:
        """Record where a message is. When the store is down the message is already in the channel: the record
        is retried in the background until the store answers (within REMEMBER_BUDGET), since a sweep after
        the outage finds a run's message only through it (an unrecorded one would say 'running' forever)."""
        try:
            await self._record(ref, subject=subject, purpose=purpose)
        except StoreUnavailable as exc:
            log.warning("%s: %s of %s not recorded yet (%s); retrying until the store answers", self.transport,
                        purpose, subject, mask(str(exc)))
            task = asyncio.create_task(self._record_later(ref, subject=subject, purpose=purpose))
            REMEMBERING.add(task)
            task.add_done_callback(REMEMBERING.discard)

    async def _record(self, ref: MessageRef, *, subject: str, purpose: str) -> None:
        await asyncio.to_thread(self.store.remember_message, subject=subject, transport=self.transport,
                                purpose=purpose, channel=ref.channel, ts=ref.ts, thread_ts=ref.thread_ts)

    async def _record_later(self, ref: MessageRef, *, subject: str, purpose: str) -> None:
        """The record retried with the backoff every held store write uses (bot.runs.durable.patiently)."""
        policy = Durability(backoff=REMEMBER_FIRST_PAUSE, hold_seconds=REMEMBER_BUDGET)
        try:
            await patiently(lambda: self.store.remember_message(
                subject=subject, transport=self.transport, purpose=purpose, channel=ref.channel, ts=ref.ts,
                thread_ts=ref.thread_ts), policy)
        except StoreUnavailable:
            log.error("%s: %s of %s could not be recorded within %.0f s; a restarted bot will not find it",
                      self.transport, purpose, subject, REMEMBER_BUDGET)

    async def messages(self, subject: str) -> list[MessageRef]:
        refs = await asyncio.to_thread(self.store.messages, subject)
        return [r for r in refs if r.transport == self.transport]


Transport = Conversation
