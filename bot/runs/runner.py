"""The runner every entry point uses: it knows the current rollout phase (from the store) and reads
flags through the checklist's flag provider, so the `flags` check compares the plan with what the
provider really holds rather than with the bot's own environment."""

from __future__ import annotations

from bot.rollout.models import phase_key
from bot.rollout.providers import build_provider
from bot.store import Store
from checks.registry import FlagReader
from checks.runner import Runner
from checks.spec import Checklist


def make_runner(checklist: Checklist, store: Store, *, concurrency: int = 16,
                overrides: dict[str, str] | None = None, env: dict[str, str] | None = None,
                flag_reader: FlagReader | None = None) -> Runner:
    """`env`/`flag_reader`: a caller that already read the target's settings or built the provider
    (the rollout runtime) passes them; otherwise both are read when first needed."""
    runner = Runner(checklist, concurrency=concurrency, overrides=overrides, env=env, flag_reader=flag_reader,
                    rollout_phase=store.get(phase_key(checklist.name)))
    rollout = checklist.rollout
    if rollout is not None and flag_reader is None:

        async def read_flags(names: list[str]) -> dict[str, str | None]:
            provider = build_provider(rollout.provider, workdir=runner.workdir, env=await runner.env())
            try:
                return await provider.read(names)
            finally:
                await provider.close()

        runner.flag_reader = read_flags
    return runner
