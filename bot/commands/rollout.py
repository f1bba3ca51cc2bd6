"""`golive promote <phase>`, `golive rollback`, `golive pause`, `golive resume`, `golive watch`: the rollout
from a terminal. Exit 0 when done, 1 when refused (the reasons are printed), 2 on bad usage or configuration, 3 when it
failed (the flag provider or the store)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import Awaitable, Callable

from bot.access import Action, Target
from bot.announcements.notifiers import build_notifier
from bot.chatops.commands import cli_help
from bot.commands.acting import Refused, acting, add_identity_args, after_change
from bot.commands.common import (
    EXIT_GO,
    EXIT_NO_GO,
    EXIT_UNDECIDED,
    Context,
    UsageError,
    add_checklist_arg,
    bounded_int,
    load_context,
    require_audit_key,
)
from bot.rollout.models import RolloutResult
from bot.rollout.providers import ProviderError
from bot.rollout.runtime import RolloutRuntime
from bot.rollout.service import RolloutService
from bot.rollout.worker import WatchOptions, run_watch
from bot.store import Store
from checks.target_env import SettingsError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("promote", help=cli_help("promote"))
    p.add_argument("phase", help="rollout phase id, e.g. phase-2")
    _common(p)
    p.set_defaults(func=promote, action=Action.ROLLOUT_PROMOTE)
    p = sub.add_parser("rollback", help=cli_help("rollback"))
    p.add_argument("--reason", default="", help="why (recorded and announced)")
    _common(p)
    p.set_defaults(func=rollback, action=Action.ROLLOUT_ROLLBACK)
    p = sub.add_parser("resume", help=cli_help("resume"))
    _common(p)
    p.set_defaults(func=resume, action=Action.ROLLOUT_KEEP_GOING)
    p = sub.add_parser("pause", help=cli_help("pause"))
    p.add_argument("--reason", default="", help="why (recorded and announced)")
    _common(p)
    p.set_defaults(func=pause, action="rollout.pause")
    p = sub.add_parser("watch", help="watch the rollout in the foreground (leader-elected), printing alerts")
    add_checklist_arg(p)
    p.add_argument("--interval", type=_seconds(3600), help="seconds between samples (default: rollout.watch), "
                   "at most 3600")
    p.add_argument("--lease-seconds", type=_seconds(3600), help="leader lease; a standby takes over within it "
                   "(at most 3600)")
    p.add_argument("--consecutive", type=bounded_int(1, 1000), help="breaching samples in a row before an alert "
                   "(1-1000)")
    p.add_argument("--escalate-after", type=_seconds(7 * 86400), help="seconds an incident may last before "
                   "escalating (at most a week)")
    p.add_argument("--events-file", help="also append every event to this file as JSON lines")
    p.add_argument("--no-schedules", action="store_true", help="do not run the checklist's scheduled phases")
    p.set_defaults(func=watch)


def _common(p: argparse.ArgumentParser) -> None:
    add_checklist_arg(p)
    add_identity_args(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _seconds(most: float) -> Callable[[str], float]:
    """A number of seconds in (0, most]: NaN, infinity and absurd values are refused with one line."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or not 0 < value <= most:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {most:g} seconds")
        return value

    return parse


def _change(args: argparse.Namespace, act: Callable[[RolloutService, str], Awaitable[RolloutResult]]) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        try:
            subject = getattr(args, "phase", "") or ctx.checklist.name
            who = acting(ctx, store, args, args.action, Target(subject=subject), args.command)
        except Refused:
            return EXIT_NO_GO
        result = asyncio.run(_with_runtime(ctx, store, lambda rt: act(rt.service, who.actor.user_id)))
        if who.break_glass is not None:
            after_change(ctx, store, who, f"break-glass {who.break_glass.id}", machine_output=args.json)
    except (LookupError, ValueError, ProviderError, SettingsError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    finally:
        store.close()
    if args.json:
        print(json.dumps({"ok": result.ok, "action": result.action, "phase": result.phase,
                          "previous_phase": result.previous_phase, "flags": result.flags,
                          "reasons": result.reasons}, indent=2))
    elif result.ok:
        print(f"✅ {result.message}")
        for condition in result.reasons:  # a conditional promotion repeats its conditions
            print(f"   - {condition}")
    elif result.failed and len(result.reasons) == 1:  # e.g. a refused token: one line says it all
        print(f"⛔ {result.message}")
    else:
        print(f"⛔ {result.message.split(': ', 1)[0]}:")
        for reason in result.reasons:
            print(f"   - {reason}")
        if result.flags and not result.failed:  # what the phase would set, percentages included
            print("   plan: " + ", ".join(f"{k}={v}" for k, v in result.flags.items()))
    if result.ok:
        return EXIT_GO
    return EXIT_UNDECIDED if result.failed else EXIT_NO_GO


async def _with_runtime(ctx: Context, store: Store, body: Callable[[RolloutRuntime], Awaitable[RolloutResult]],
                        ) -> RolloutResult:
    runtime = await RolloutRuntime.create(ctx.checklist, store, build_notifier(ctx.settings, store, terminal=False),
                                          redis_url=ctx.settings.secret("redis_url"), prefix=ctx.settings.redis_prefix)
    try:
        return await body(runtime)
    finally:
        await runtime.close()


def promote(args: argparse.Namespace) -> int:
    return _change(args, lambda service, actor: service.promote(args.phase, actor=actor))


def rollback(args: argparse.Namespace) -> int:
    return _change(args, lambda service, actor: service.rollback(actor=actor, reason=args.reason))


def resume(args: argparse.Namespace) -> int:
    return _change(args, lambda service, actor: service.resume(actor=actor))


def pause(args: argparse.Namespace) -> int:
    return _change(args, lambda service, actor: service.hold(actor=actor, reason=args.reason))


def watch(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        require_audit_key(store)  # the watch pauses, rolls back and audits: one key for every replica
    except UsageError:
        store.close()
        raise
    options = WatchOptions(interval=args.interval, lease_seconds=args.lease_seconds, consecutive=args.consecutive,
                           escalate_after=args.escalate_after, events_file=args.events_file,
                           schedules=not args.no_schedules)
    try:
        return asyncio.run(run_watch(ctx.settings, store, ctx.checklist, options,
                                     build_notifier(ctx.settings, store, events_file=options.events_file)))
    except (LookupError, ValueError, ProviderError, SettingsError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    finally:
        store.close()
