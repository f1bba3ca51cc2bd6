"""`golive freeze`: release freezes from a terminal.

    golive freeze                           # what is frozen now (checklist windows and declared)
    golive freeze --until 2h --reason "..." # declare one (any sign-off role member)
    golive freeze --lift                    # lift the declared ones you declared (all: an override role)
    golive freeze --override --reason "..." # sign an override (a role in freeze.override_roles)

Who acts comes from the operators file (bot.authority.identity), as for every CLI verb that changes something.
Exit 0 done, 1 refused, 2 bad usage or configuration, 3 the store failed."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.access import Action, Target
from bot.chatops.commands import cli_help
from bot.commands.acting import Refused, acting, add_identity_args, after_change
from bot.commands.common import EXIT_GO, EXIT_NO_GO, UsageError, add_checklist_arg, load_context
from bot.policy.freeze import FreezeError, FreezeRefused, FreezeService, parse_until


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("freeze", help=cli_help("freeze"))
    p.add_argument("--until", help="declare a freeze until this time (2026-12-01T08:00Z) or for a duration (2h)")
    p.add_argument("--reason", default="", help="why (declaring or overriding)")
    p.add_argument("--lift", action="store_true", help="lift the declared freezes (yours; all with an override role)")
    p.add_argument("--override", action="store_true", help="sign an override of the freezes in force")
    add_identity_args(p)
    add_checklist_arg(p)
    p.set_defaults(func=freeze)


def freeze(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.until, args.lift, args.override)) > 1:
        raise UsageError("use one of --until, --lift, --override at a time")
    if args.override and args.break_glass is not None:
        raise UsageError("an override must be signed by a member of freeze.override_roles; break-glass cannot sign "
                         "one")
    ctx = load_context(args)
    store = ctx.store()
    try:
        try:
            service = FreezeService(store, ctx.checklist)
        except FreezeError as exc:
            raise UsageError(str(exc)) from None
        if not (args.until or args.lift or args.override):
            active = service.active()
            for item in active:
                state = " (overridden)" if service.overridden(item) else ""
                print(f"{item.text()}{state}")
            if not active:
                print("no release freeze is in force")
            return EXIT_GO
        verb = "freeze --override" if args.override else "freeze --lift" if args.lift else "freeze"
        if args.until:  # a bad time is a usage error before anything is recorded
            try:
                until = parse_until(args.until, datetime.now(UTC))
            except FreezeError as exc:
                raise UsageError(str(exc)) from None
        try:
            # the override has its own rule (freeze.override_roles); declaring and lifting use the table
            action = Action.STATUS if args.override else Action.ROLLOUT_FREEZE
            who = acting(ctx, store, args, action, Target(subject=ctx.checklist.name), verb)
        except Refused:
            return EXIT_NO_GO
        try:
            if args.override:
                done = asyncio.run(service.override(who.actor, args.reason))
                print("✅ override signed for: " + "; ".join(f.text() for f in done))
            elif args.lift:
                asyncio.run(service.lift(who.actor, break_glass=who.break_glass.id if who.break_glass else None))
                print("✅ declared freeze lifted")
            else:
                declared = service.declare(until, args.reason, by=who.actor.user_id)
                print(f"✅ {declared.text()}")
        except FreezeRefused as exc:
            print(f"⛔ refused: {exc}")
            return EXIT_NO_GO
        except FreezeError as exc:
            raise UsageError(str(exc)) from None
        if who.break_glass is not None:
            after_change(ctx, store, who, f"{verb} by {who.actor.user_id}")
        return EXIT_GO
    finally:
        store.close()
