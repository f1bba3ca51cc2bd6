"""Redelivery dedupe: Slack and Teams both resend a request they think was not answered in time. The
first delivery claims its key (in Redis when configured, so every replica agrees); the rest are ignored.
If the claim store is down we act anyway: locks and exactly-once records still protect us."""

from __future__ import annotations

from bot.coordination.locks import Locks, LockUnavailable


async def first_delivery(locks: Locks, transport: str, key: str) -> bool:
    """False when this request (same trigger, action or activity id) was already handled."""
    if not key:
        return True
    try:
        return await locks.claim_once(f"{transport}:{key}")
    except LockUnavailable:
        return True
