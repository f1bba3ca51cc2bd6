"""The watch's preflight: one sample against the target, every rule evaluated once, the blind ones listed.
Its own module so `golive checks` can run it without loading the scheduler, Redis or the providers."""

from __future__ import annotations

from collections.abc import Mapping

from bot.rollout.metrics import Collector
from bot.rollout.models import WatchConfig
from bot.rollout.rules import BlindRule, blind_rules, rules_for
from checks.spec import Criteria


async def preflight(config: WatchConfig, target_url: str, criteria: Criteria | None = None,
                    env: Mapping[str, str] | None = None) -> list[BlindRule]:
    """One sample against the target, every rule evaluated once: the rules it cannot evaluate (blind).
    For `golive checks` and `golive watch`, before any rollout thread exists. A rate from the target's
    /metrics needs a second sample: one sample proves only that its counter is there (not blind)."""
    collector = Collector(config, target_url, env=env)
    try:
        sample = await collector.collect()
        return blind_rules(sample, rules_for(config, criteria or Criteria()), collector.has_source)
    finally:
        await collector.close()
