"""How one service's state is told from another's wherever a row has no `service` column: kv keys, lock and
lease names, Redis keys. The default service keeps the names it always had, so a single-service install
(and its data from before services) is unaffected; another service's names carry `svc:<key>:`."""

from __future__ import annotations

DEFAULT_SERVICE = "default"
"""The default service's key (bot.services.registry.DEFAULT_KEY): rows from before services carry it (0008)."""
SERVICE_PREFIX = "svc:{service}:"


def service_key(service: str, key: str) -> str:
    """`key` as service `service` names it: unchanged for the default service."""
    return key if service == DEFAULT_SERVICE else SERVICE_PREFIX.format(service=service) + key
