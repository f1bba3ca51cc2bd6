"""`golive waive <check> <duration> <reason>`: accept a failing check until the waiver expires;
`golive unwaive <check>` (or `waive --revoke`) ends it early, `--list` shows the live ones. Who acts
comes from the operators file (bot.authority.identity) and the access table decides, as in chat; `--by` picks
one of the ids the mapping grants. Exit 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import argparse
import sys

from bot.access import Action, Target
from bot.chatops.commands import cli_help
from bot.commands.acting import Refused, acting, add_identity_args, after_change
from bot.commands.common import EXIT_GO, EXIT_NO_GO, UsageError, add_checklist_arg, load_context
from bot.policy.waivers import WaiverError, WaiverRefused, WaiverService, parse_duration


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("waive", help=cli_help("waive"))
    p.add_argument("check", nargs="?", help="check id, e.g. smoke.cache")
    p.add_argument("duration", nargs="?", help="how long: 30m, 2h, 1d (at most 30 days)")
    p.add_argument("reason", nargs="*", help="why the failing check is acceptable for now")
    add_identity_args(p)
    p.add_argument("--revoke", action="store_true", help="revoke the check's live waiver instead")
    p.add_argument("--list", action="store_true", help="list the live waivers")
    add_checklist_arg(p)
    p.set_defaults(func=waive)
    p = sub.add_parser("unwaive", help=cli_help("unwaive"))
    p.add_argument("check", help="check id, e.g. smoke.cache")
    add_identity_args(p)
    add_checklist_arg(p)
    p.set_defaults(func=waive, revoke=True, list=False, duration=None, reason=[])


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
            raise UsageError("name the check to waive: golive waive <check> <duration> <reason>")
        if not args.revoke and (not args.duration or not args.reason):
            raise UsageError("a waiver needs a duration and a reason: golive waive <check> 2h <reason>")
        verb = "unwaive" if args.revoke else "waive"
        if not args.revoke:  # a bad duration is a usage error before anyone's identity is looked up
            try:
                parse_duration(args.duration)
            except WaiverError as exc:
                raise UsageError(str(exc)) from None
        try:
            who = acting(ctx, store, args, Action.CHECK_WAIVE, Target(subject=f"{ctx.checklist.name}:{args.check}"),
                         verb)
        except Refused:
            return EXIT_NO_GO
        by = who.actor.user_id
        try:
            if args.revoke:
                service.revoke(args.check, by=by, transport="cli")
                print(f"✅ the waiver of {args.check} is revoked: it counts in the verdict again")
            else:
                waiver = service.grant(args.check, args.duration, " ".join(args.reason), by=by, transport="cli")
                print(f"✅ {args.check} {waiver.text()}")
        except WaiverRefused as exc:
            print(f"⛔ {verb} refused: {exc}", file=sys.stdout)
            return EXIT_NO_GO
        except WaiverError as exc:
            raise UsageError(str(exc)) from None
        after_change(ctx, store, who, f"{verb} {args.check} by {by}")
        return EXIT_GO
    finally:
        store.close()
