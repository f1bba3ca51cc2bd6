"""The rollout engine: flag providers, the promotion gate, promote / rollback, and the watch.

    runtime = await RolloutRuntime.create(checklist, store, notifier, redis_url=..., prefix="golive:")
    await runtime.service.promote("phase-2", actor="U123")          # refused → result.reasons
    await runtime.service.rollback(actor="U123", reason="p95 too high")
    await runtime.service.handle_rollout_action("rollback" | "keep_going", phase, user)  # alert buttons
    supervisor = runtime.supervisor(); await supervisor.start() ... await supervisor.stop()
    # (leader-elected watch + scheduled runs; `runtime.watch().start()/stop()` without election)
    Runner(checklist, flag_reader=runtime.service.flag_reader())   # `flags` check reads the provider
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562): `golive status` and `golive checks` need the models and the watch's
# preflight, not Redis, apscheduler and the providers that the runtime pulls in.
_EXPORTS = {
    "RolloutResult": "bot.rollout.models", "WatchConfig": "bot.rollout.models", "watch_config": "bot.rollout.models",
    "FlagProvider": "bot.rollout.providers", "ProviderError": "bot.rollout.providers",
    "build_provider": "bot.rollout.providers", "flag_reader": "bot.rollout.providers",
    "RolloutRuntime": "bot.rollout.runtime", "RolloutSupervisor": "bot.rollout.runtime",
    "RolloutService": "bot.rollout.service", "Watch": "bot.rollout.watch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.rollout' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
