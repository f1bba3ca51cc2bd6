"""The rollout engine: flag providers, the promotion gate, promote / rollback, and the watch.

    runtime = await RolloutRuntime.create(checklist, store, notifier, redis_url=..., prefix="golive:")
    await runtime.service.promote("phase-2", actor="U123")          # refused → result.reasons
    await runtime.service.rollback(actor="U123", reason="p95 too high")
    await runtime.service.handle_rollout_action("rollback" | "keep_going", phase, user)  # alert buttons
    supervisor = runtime.supervisor(); await supervisor.start() ... await supervisor.stop()
    # (leader-elected watch + scheduled runs; `runtime.watch().start()/stop()` without election)
    Runner(checklist, flag_reader=runtime.service.flag_reader())   # `flags` check reads the provider
"""

from bot.rollout.models import RolloutResult, WatchConfig, watch_config
from bot.rollout.providers import FlagProvider, ProviderError, build_provider, flag_reader
from bot.rollout.runtime import RolloutRuntime, RolloutSupervisor
from bot.rollout.service import RolloutService
from bot.rollout.watch import Watch

__all__ = ["FlagProvider", "ProviderError", "RolloutResult", "RolloutRuntime", "RolloutService", "RolloutSupervisor",
           "Watch", "WatchConfig", "build_provider", "flag_reader", "watch_config"]
