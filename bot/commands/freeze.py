"""`golive freeze`: release freezes from a terminal.

    golive freeze                           # what is frozen now (checklist windows, declared, global)
    golive freeze --until 2h --reason "..." # declare one (any sign-off role member)
    golive freeze --lift                    # lift the declared ones you declared (all: an override role)
    golive freeze --override --reason "..." # sign an override (a role in freeze.override_roles)
    golive freeze --global [...]            # the same for the global freeze that holds every service

Who acts comes from the operators file (bot.authority.identity), as for every CLI verb that changes something.
A global freeze is declared and lifted under the same access rule as a service's, checked against the roles
of the service named by --service (the only one by default): with several services, name the one whose role
you act in. Exit 0 done, 1 refused, 2 bad usage or configuration, 3 the store failed."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.access import Action, Target
from bot.chatops.commands import cli_help
from bot.commands.acting import Refused, acting, add_identity_args, after_change
from bot.commands.common import (
    EXIT_GO,
    EXIT_NO_GO,
    Context,
    UsageError,
    add_checklist_arg,
    load_context,
    load_every_service,
)
from bot.policy.freeze import FreezeError, FreezeRefused, FreezeService, parse_until
from bot.store import Store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("freeze", help=cli_help("freeze"))
    p.add_argument("--until", help="declare a freeze until this time (2026-12-01T08:00Z) or for a duration (2h)")
    p.add_argument("--reason", default="", help="why (declaring or overriding)")
    p.add_argument("--lift", action="store_true", help="lift the declared freezes (yours; all with an override role)")
    p.add_argument("--override", action="store_true", help="sign an override of the freezes in force")
    p.add_argument("--global", action="store_true", dest="everywhere",
                   help="the global freeze, which holds every service's promotions (with several services, "
                        "--service names the one whose roles you act in)")
    add_identity_args(p)
    add_checklist_arg(p)
    p.set_defaults(func=freeze)


def freeze(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.until, args.lift, args.override)) > 1:
        raise UsageError("use one of --until, --lift, --override at a time")
    if args.override and args.break_glass is not None:
        raise UsageError("an override must be signed by a member of freeze.override_roles; break-glass cannot sign "
                         "one")
    changing = bool(args.until or args.lift or args.override)
    ctx = _context(args, changing)
    store = ctx.store()
    try:
        try:
            service = FreezeService(store, ctx.checklist, global_scope=args.everywhere)
            everywhere = service if args.everywhere else FreezeService(store, ctx.checklist, global_scope=True)
        except FreezeError as exc:
            raise UsageError(str(exc)) from None
        if not changing:
            return _list(service, everywhere)
        return _change(args, ctx, store, service)
    finally:
        store.close()


def _context(args: argparse.Namespace, changing: bool) -> Context:
    """The service acted on. A global freeze is listed without one; declaring, lifting or overriding it is
    authorised by one service's roles, so with several services --service must name it."""
    if not args.everywhere or args.service is not None:
        return load_context(args)
    ctx = load_every_service(args)
    if changing and ctx.registry is not None and len(ctx.registry) > 1:
        raise UsageError(f"a global freeze is changed in the name of a role you hold in one service: add --service "
                         f"NAME ({', '.join(ctx.registry.names)})")
    return ctx


def _list(service: FreezeService, everywhere: FreezeService) -> int:
    """Every freeze in force for this service (or only the global ones with --global); global ones say so."""
    active = service.active()
    global_keys = {item.key for item in everywhere.active()}
    for item in active:
        scope = "global: " if item.key in global_keys else ""
        state = " (overridden)" if service.overridden(item) else ""
        print(f"{scope}{item.text()}{state}")
    if not active:
        print("no global release freeze is in force" if service.global_scope else "no release freeze is in force")
    return EXIT_GO


def _change(args: argparse.Namespace, ctx: Context, store: Store, service: FreezeService) -> int:
    scope = " --global" if args.everywhere else ""
    verb = f"freeze{scope} --override" if args.override else f"freeze{scope} --lift" if args.lift \
        else f"freeze{scope}"
    if args.until:  # a bad time is a usage error before anything is recorded
        try:
            until = parse_until(args.until, datetime.now(UTC))
        except FreezeError as exc:
            raise UsageError(str(exc)) from None
    try:
        # the override has its own rule (freeze.override_roles); declaring and lifting use the table
        action = Action.STATUS if args.override else Action.ROLLOUT_FREEZE
        subject = "*/freeze" if args.everywhere else ctx.checklist.name
        who = acting(ctx, store, args, action, Target(subject=subject), verb)
    except Refused:
        return EXIT_NO_GO
    every = " for every service" if args.everywhere else ""
    try:
        if args.override:
            done = asyncio.run(service.override(who.actor, args.reason))
            print(f"✅ override signed{every} for: " + "; ".join(f.text() for f in done))
        elif args.lift:
            asyncio.run(service.lift(who.actor, break_glass=who.break_glass.id if who.break_glass else None))
            print(f"✅ declared {'global ' if args.everywhere else ''}freeze lifted")
        else:
            declared = service.declare(until, args.reason, by=who.actor.user_id)
            print(f"✅ {'global: ' if args.everywhere else ''}{declared.text()}")
    except FreezeRefused as exc:
        print(f"⛔ refused: {exc}")
        return EXIT_NO_GO
    except FreezeError as exc:
        raise UsageError(str(exc)) from None
    if who.break_glass is not None:
        after_change(ctx, store, who, f"{verb} by {who.actor.user_id}")
    return EXIT_GO
