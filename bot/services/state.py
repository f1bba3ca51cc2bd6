"""Where one service's state lives: its view of the shared store and its locks, keyed by the service's store key,
so nothing one service records, locks or leases is seen by another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.coordination.locks import for_service

if TYPE_CHECKING:
    from bot.coordination.locks import Locks
    from bot.services.registry import Service
    from bot.store import Store


def scoped(store: Store, locks: Locks, service: Service) -> tuple[Store, Locks]:
    """The store and locks one service's ChatOps, sign-offs, waivers, freezes and rollout use: the same
    database and lock backend, every row, kv key, lock and lease keyed by `service.store_key`
    (bot.store.Store.for_service, bot.coordination.locks.for_service). The default service's view is the
    store and locks themselves, named as before services existed."""
    return store.for_service(service.store_key), for_service(locks, service.store_key)
