"""`golive acknowledge <id>`: a sign-off role holder (not the one who broke the glass) acknowledges a
break-glass action, which `golive status` lists until then. Exit 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import argparse

from bot.access import Action, Target
from bot.authority.breakglass import BreakGlassError, acknowledge
from bot.chatops.commands import cli_help
from bot.commands.acting import Refused, acting, add_identity_args
from bot.commands.common import EXIT_GO, EXIT_NO_GO, add_checklist_arg, load_context


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("acknowledge", help=cli_help("acknowledge"))
    p.add_argument("id", help="the break-glass id `golive status` lists")
    add_identity_args(p, break_glass=False)
    add_checklist_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        try:
            who = acting(ctx, store, args, Action.BREAK_GLASS_ACK, Target(subject=f"break_glass:{args.id}"),
                         "acknowledge")
        except Refused:
            return EXIT_NO_GO
        try:
            item = acknowledge(store, args.id, by=who.actor.user_id, transport="cli")
        except BreakGlassError as exc:
            print(f"⛔ acknowledge refused: {exc}")
            return EXIT_NO_GO
        print(f"✅ break-glass {item.id} (`{item.verb}` by {item.os_user}@{item.host}) acknowledged by "
              f"{item.acknowledged_by}")
        return EXIT_GO
    finally:
        store.close()
