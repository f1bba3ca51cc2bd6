"""Where one service's state lives: its view of the shared store and its locks, keyed by the service's store key,
so nothing one service records, locks or leases is seen by another."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.coordination.locks import Locks
    from bot.services.registry import Service
    from bot.store import Store


def scoped(store: Store, locks: Locks, service: Service) -> tuple[Store, Locks]:
    """The store and locks one service's ChatOps, sign-offs, waivers, freezes and rollout use.

    Not keyed yet: every service shares the default service's state (the keying is being built)."""
    return store, locks
