"""`golive waive <check> <duration> <reason> --by <who>`: accept a failing check until the waiver expires;
`--revoke` ends it early, `--list` shows the live ones. Role-checked like sign-offs (the person named by
`--by` must hold a sign-off role), audited as a terminal action. Exit 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.access import Action, Target, authorize
from bot.chatops.actor import Actor
from bot.commands.common import EXIT_GO, EXIT_NO_GO, UsageError, add_checklist_arg, load_context
from bot.waivers import WaiverError, WaiverRefused, WaiverService


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("waive", help="waive a failing check for a while (role-checked, audited, revocable)")
    p.add_argument("check", nargs="?", help="check id, e.g. smoke.cache")
    p.add_argument("duration", nargs="?", help="how long: 30m, 2h, 1d (at most 30 days)")
    p.add_argument("reason", nargs="*", help="why the failing check is acceptable for now")
    p.add_argument("--by", help="who is waiving: a user id mapped to a sign-off role in the checklist")
    p.add_argument("--revoke", action="store_true", help="revoke the check's live waiver instead")
    p.add_argument("--list", action="store_true", help="list the live waivers")
    add_checklist_arg(p)
    p.set_defaults(func=waive)


def waive(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        service = WaiverService(store, ctx.checklist)
        if args.list:
            live = service.active()
            for waiver in live:
                print(f"{waiver.check_id}: {waiver.text()}")
            if not live:
                print("no live waivers")
            return EXIT_GO
        if not args.check:
            raise UsageError("name the check to waive: golive waive <check> <duration> <reason> --by <user id>")
        if not args.by:
            raise UsageError("--by is required: the user id of the lead waiving (it must hold a sign-off role)")
        if not args.revoke and (not args.duration or not args.reason):
            raise UsageError("a waiver needs a duration and a reason: golive waive <check> 2h <reason> --by <id>")
        actor = Actor(user_id=args.by, transport="cli")
        decision = asyncio.run(authorize(store, ctx.checklist, actor, Action.CHECK_WAIVE,
                                         Target(subject=f"{ctx.checklist.name}:{args.check}")))
        if not decision.allowed:
            print(f"⛔ waive refused: {decision.reason}")
            return EXIT_NO_GO
        try:
            if args.revoke:
                service.revoke(args.check, by=args.by, transport="cli")
                print(f"✅ the waiver of {args.check} is revoked: it counts in the verdict again")
            else:
                waiver = service.grant(args.check, args.duration, " ".join(args.reason), by=args.by, transport="cli")
                print(f"✅ {args.check} {waiver.text()}")
        except WaiverRefused as exc:
            print(f"⛔ waive refused: {exc}", file=sys.stdout)
            return EXIT_NO_GO
        except WaiverError as exc:
            raise UsageError(str(exc)) from None
        return EXIT_GO
    finally:
        store.close()
