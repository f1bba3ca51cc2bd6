"""Built-in check kinds, imported only when a checklist uses them.

Each kind lives in one module; `BUILTIN_KINDS` says which. Importing every kind costs most of a second
(httpx, psycopg, sentry_sdk), which `golive status` and `golive checks` should not pay for kinds their
checklist never names. tests/engine/test_registry.py keeps this table equal to what the modules register.
"""

from __future__ import annotations

import importlib

BUILTIN_KINDS: dict[str, str] = {
    "env": "env",
    "flags": "flags",
    "command": "command",
    "postgres.query": "postgres",
    "redis.ping": "redis",
    "redis.roundtrip": "redis",
    "http": "http",
    "smoke.rate_limit": "smoke",
    "smoke.cache": "smoke",
    "api.v1": "api",
    "api.legacy": "api",
    "guard.localhost": "guards",
    "guard.force_production": "guards",
    "backup.create": "backup",
    "backup.integrity": "backup",
    "backup.restore_dry_run": "backup",
    "migration.current": "migration",
    "migration.dry_run": "migration",
    "schema.columns": "migration",
    "migration.rollback": "migration",
    "migration.from_scratch": "migration",
    "sentry.test_event": "sentry",
    "openapi": "openapi",
}


def import_kind(name: str) -> bool:
    """Import the module that registers built-in kind `name`; False when no built-in has that name."""
    module = BUILTIN_KINDS.get(name)
    if module is None:
        return False
    importlib.import_module(f"{__name__}.{module}")
    return True


def import_all() -> None:
    for module in sorted(set(BUILTIN_KINDS.values())):
        importlib.import_module(f"{__name__}.{module}")
