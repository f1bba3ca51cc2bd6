"""Turning a ChatOps reply into Slack output: shared results go to the channel (and are remembered),
everything personal (help, refusals, 'already running') is ephemeral to the one who asked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.chatops.replies import Reply, SignoffDecided, SignoffOpened
from bot.conversation.replies import is_private, public_place
from bot.slack.deps import SlackDeps
from bot.slack.ids import TRANSPORT
from bot.slack.poster import not_posted_note
from bot.slack.render import render
from bot.slack.views.blocks import SlackMessage
from bot.slack.views.signoff import moved_card, signoff_card
from bot.store import MessageRef

log = logging.getLogger("golive.slack")

Respond = Callable[..., Awaitable[Any]]


async def tell(deps: SlackDeps, message: SlackMessage, *, channel: str | None, user: str,
               respond: Respond | None) -> None:
    """An ephemeral answer: through the request's response_url when there is one, else chat.postEphemeral."""
    if respond is not None:
        try:
            await respond(response_type="ephemeral", replace_original=False, **message.payload())
            return
        except Exception as exc:
            log.warning("respond via response_url failed: %s", type(exc).__name__)
    if channel:
        await deps.poster.ephemeral(channel=channel, user=user, message=message)


async def publish_or_tell(deps: SlackDeps, message: SlackMessage, *, channel: str, user: str, subject: str,
                          purpose: str, respond: Respond | None) -> None:
    """Post in the channel for everyone; if Slack refuses (bot not invited), show it to the asker instead."""
    if await deps.poster.post(message, channel=channel, subject=subject, purpose=purpose) is None:
        hint = SlackMessage(text=not_posted_note(deps.poster.last_error) + "\n" + message.text, blocks=message.blocks)
        await tell(deps, hint, channel=channel, user=user, respond=respond)


async def answer(deps: SlackDeps, reply: Reply, *, channel: str, user: str, respond: Respond | None) -> None:
    """Who sees what is the conversation layer's rule (bot.conversation.replies); how it looks is the
    renderer's (bot.slack.render)."""
    if isinstance(reply, SignoffDecided):
        await refresh_card(deps, reply, fallback_channel=channel)
        return
    try:
        message = render(reply)
    except TypeError:
        log.warning("no Slack rendering for %s", type(reply).__name__)
        return
    if is_private(reply):
        await tell(deps, message, channel=channel, user=user, respond=respond)
        return
    subject, purpose = public_place(reply) or ("", "reply")
    reposted = isinstance(reply, SignoffOpened) and reply.reopened
    previous = await deps.poster.find(subject, purpose) if reposted else None
    await publish_or_tell(deps, message, channel=channel, user=user, subject=subject, purpose=purpose,
                          respond=respond)
    if previous is not None and isinstance(reply, SignoffOpened):  # the older card now points to the new one
        current = await deps.poster.find(subject, purpose)
        if current is not None and current.ts != previous.ts:
            await deps.poster.update(previous, moved_card(reply.request, reply.stage, current))


async def refresh_card(deps: SlackDeps, reply: SignoffDecided, *, fallback_channel: str | None = None,
                       fallback_ts: str | None = None) -> bool:
    """Re-render the whole sign-off card in place (the remembered message, else the one clicked), so the
    next successful update also repairs one that failed before. False when Slack refused the update."""
    ref = await deps.poster.find(reply.request.id, "card")
    message = signoff_card(reply.request, reply.stage)
    if ref is None and fallback_channel and fallback_ts:
        ref = MessageRef(reply.request.id, TRANSPORT, "card", fallback_channel, fallback_ts, None)
    return True if ref is None else await deps.poster.update(ref, message)
