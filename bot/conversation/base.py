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
from bot.store import MessageRef, Store
from checks.masking import mask

log = logging.getLogger("golive.conversation")


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
        await asyncio.to_thread(self.store.remember_message, subject=subject, transport=self.transport,
                                purpose=purpose, channel=ref.channel, ts=ref.ts, thread_ts=ref.thread_ts)

    async def messages(self, subject: str) -> list[MessageRef]:
        refs = await asyncio.to_thread(self.store.messages, subject)
        return [r for r in refs if r.transport == self.transport]


Transport = Conversation
