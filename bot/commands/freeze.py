"""`golive freeze`: release freezes from a terminal.

    golive freeze                                   # what is frozen now (checklist windows and declared)
    golive freeze --until 2h --reason "..." --by U  # declare one (any sign-off role member)
    golive freeze --lift --by U                     # lift the declared ones
    golive freeze --override --reason "..." --by U  # sign an override (a role in freeze.override_roles)

Exit 0 done, 1 refused, 2 bad usage or configuration, 3 the store failed."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.access import Action, Target, authorize
from bot.chatops.actor import Actor
from bot.commands.common import EXIT_GO, EXIT_NO_GO, UsageError, add_checklist_arg, load_context
from bot.freeze import FreezeError, FreezeRefused, FreezeService, parse_until


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("freeze", help="show, declare, lift or override a release freeze")
    p.add_argument("--until", help="declare a freeze until this time (2026-12-01T08:00Z) or for a duration (2h)")
    p.add_argument("--reason", default="", help="why (declaring or overriding)")
    p.add_argument("--lift", action="store_true", help="lift the declared freezes")
    p.add_argument("--override", action="store_true", help="sign an override of the freezes in force")
    p.add_argument("--by", help="who is acting (a user id mapped to a sign-off role)")
    add_checklist_arg(p)
    p.set_defaults(func=freeze)


def freeze(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.until, args.lift, args.override)) > 1:
        raise UsageError("use one of --until, --lift, --override at a time")
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
        if not args.by:
            raise UsageError("--by is required: the user id of the person acting (it must hold a sign-off role)")
        actor = Actor(user_id=args.by, transport="cli")
        try:
            if args.override:
                done = asyncio.run(service.override(actor, args.reason))
                print("✅ override signed for: " + "; ".join(f.text() for f in done))
                return EXIT_GO
            decision = asyncio.run(authorize(store, ctx.checklist, actor, Action.ROLLOUT_FREEZE,
                                             Target(subject=ctx.checklist.name)))
            if not decision.allowed:
                print(f"⛔ freeze refused: {decision.reason}")
                return EXIT_NO_GO
            if args.lift:
                service.lift(by=args.by, transport="cli")
                print("✅ declared freeze lifted")
            else:
                declared = service.declare(parse_until(args.until, datetime.now(UTC)), args.reason, by=args.by)
                print(f"✅ {declared.text()}")
        except FreezeRefused as exc:
            print(f"⛔ refused: {exc}")
            return EXIT_NO_GO
        except FreezeError as exc:
            raise UsageError(str(exc)) from None
        return EXIT_GO
    finally:
        store.close()
