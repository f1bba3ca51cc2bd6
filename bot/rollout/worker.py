"""A watch process: `python -m bot.rollout.worker --checklist X` (the same as `golive watch`).

Run one per replica: they agree through the leader lease in Redis which one watches and runs the
schedules; the others stand by. Alerts and announcements go to every configured chat transport, and
always to stdout (and to `--events-file` as JSON lines). SIGTERM/SIGINT stop it cleanly, handing
the lease back so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.announcements.events import Notifier
from bot.rollout.notify import run_reporter
from bot.rollout.preflight import preflight
from bot.rollout.runtime import RolloutRuntime
from bot.settings import Settings
from bot.store import Store
from checks.spec import Checklist


@dataclass
class WatchOptions:
    interval: float | None = None
    lease_seconds: float | None = None
    consecutive: int | None = None
    escalate_after: float | None = None
    events_file: str | None = None
    schedules: bool = True


def say(text: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S.%f}"[:-3] + f" {text}", flush=True)


async def run_watch(settings: Settings, store: Store, checklist: Checklist, options: WatchOptions,
                    notifier: Notifier) -> int:
    """Stand by / watch until SIGTERM or SIGINT; events go to `notifier` (bot.announcements.notifiers.build_notifier
    assembles the configured transports: the rollout itself knows none)."""
    runtime = await RolloutRuntime.create(
        checklist, store, notifier, redis_url=settings.secret("redis_url"), prefix=settings.redis_prefix,
        interval_seconds=options.interval, lease_seconds=options.lease_seconds, consecutive=options.consecutive,
        escalate_after_seconds=options.escalate_after)

    async def leadership(leader: bool) -> None:
        owner = supervisor.lease.owner
        say(f"leader {owner}: watching {checklist.name}" if leader else f"standby {owner}: not watching")

    def phase_changed(phase: str | None) -> None:
        say(f"rollout phase {phase} is active: sampling" if phase else
            "no rollout phase is active: idle until a promotion (open incidents are still followed)")

    supervisor = runtime.supervisor(schedules=options.schedules, on_run=run_reporter(notifier),
                                    on_leadership=leadership, on_phase=phase_changed)
    config = runtime.config
    shared = "shared through Redis" if settings.secret("redis_url") else "no GOLIVE_REDIS_URL: this process " \
        "assumes it is the only watcher"
    say(f"golive watch {checklist.name} → {runtime.target_url} every {config.interval_seconds:g}s, "
        f"alert after {config.consecutive} samples, lease {config.lease_seconds:g}s ({shared}); "
        f"waiting for leadership as {supervisor.lease.owner}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    blind = await preflight(config, runtime.target_url, env=runtime.env)
    if blind:
        say(f"watch preflight: {len(blind)} rule(s) are blind (cannot be evaluated against {runtime.target_url}); "
            "they cannot raise an alert:")
        for rule in blind:
            say(f"  blind: {rule.line()}")
        say("  publish the metric, point rollout.watch.metrics at it, or list the rule in "
            "rollout.watch.optional_rules")
    else:
        say("watch preflight: every rule can be evaluated against the target")
    await supervisor.start()
    try:
        await stop.wait()
    finally:
        await supervisor.stop()
        await runtime.close()
    say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    from bot.cli import main as cli_main

    return cli_main(["watch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
