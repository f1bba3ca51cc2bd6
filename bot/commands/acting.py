"""One identity and access rule for every CLI verb that changes the rollout or signs something off.

The identity comes from the operators file (bot.authority.identity), never from `--by` alone; the access rule is
the chat's own table (bot.access.authorize). Both sides are audited: the `cli.authorized` row names the
chat user id and the OS user and host; refusals are `access.denied` rows. `--break-glass "reason"`
skips the access table (bot.authority.breakglass) and is audited, announced and listed until acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from bot.access import Target, authorize
from bot.authority.breakglass import BreakGlass, BreakGlassError, announce_pending, record
from bot.authority.identity import CliIdentity, IdentityError, NotGranted, acting_as, resolve
from bot.chatops.actor import Actor
from bot.commands.common import EXIT_NO_GO, Context, UsageError, require_audit_key
from bot.store import Store


def add_identity_args(p: argparse.ArgumentParser, *, break_glass: bool = True) -> None:
    p.add_argument("--by", help="the chat user id to act as; it must be one the operators file maps your OS user "
                                "to (default: the first)")
    if break_glass:
        p.add_argument("--break-glass", metavar="REASON", dest="break_glass",
                       help="act without the access table (chat is down): audited with your OS user and host, "
                            "announced in the release channel, listed in status until acknowledged")


@dataclass
class Acting:
    actor: Actor
    identity: CliIdentity
    break_glass: BreakGlass | None = None


class Refused(Exception):
    """The CLI call is refused (exit 1); the message was printed and audited."""


def refuse(store: Store, who: str, verb: str, reason: str, detail: dict[str, object]) -> Refused:
    store.audit(actor=who, action="access.denied", subject=verb, detail={"action": verb, "reason": reason,
                                                                           "transport": "cli", **detail})
    print(f"⛔ {verb} refused: {reason}", file=sys.stdout)
    return Refused(reason)


def acting(ctx: Context, store: Store, args: argparse.Namespace, action: str, target: Target,
           verb: str) -> Acting:
    """Who this call acts as, after the access check (or the break-glass record). Raises Refused (exit 1)
    or UsageError (exit 2: the operators file is missing or unsafe)."""
    require_audit_key(store)
    path = ctx.settings.operators_file
    reason = getattr(args, "break_glass", None)
    by = getattr(args, "by", None)
    if reason is not None:
        identity = resolve(path, require_mapping=False)
        if by and by not in identity.chat_ids:
            raise refuse(store, f"os:{identity.who}", verb, f"--by {by} is not granted to {identity.who}; "
                         "break-glass acts as your OS user (and its mapped id, if any), never as someone else",
                         identity.detail())
        try:
            item = record(store, ctx.checklist.name, verb, identity, reason)
        except BreakGlassError as exc:
            raise UsageError(str(exc)) from None
        user = by or item.chat_user or f"os:{identity.who}"
        return Acting(Actor(user_id=user, transport="cli"), identity, item)
    try:
        identity = resolve(path)
        user = acting_as(identity, by)
    except IdentityError as exc:
        raise UsageError(str(exc)) from None
    except NotGranted as exc:
        from bot.authority.identity import host, os_user

        raise refuse(store, f"os:{os_user()}@{host()}", verb, str(exc),
                     {"os_user": os_user(), "host": host(), "by": by, "operators_file": str(path)}) from None
    actor = Actor(user_id=user, transport="cli")
    decision = asyncio.run(authorize(store, ctx.checklist, actor, action, target))
    if not decision.allowed:
        print(f"⛔ {verb} refused: {decision.reason}")
        raise Refused(decision.reason)
    store.audit(actor=user, action="cli.authorized", subject=target.subject or verb,
                detail={"action": str(action), "verb": verb, "transport": "cli", **identity.detail()})
    return Acting(actor, identity)


def after_change(ctx: Context, store: Store, who: Acting, why: str, *, machine_output: bool = False) -> None:
    """After a waiver, a freeze change or a break-glass action: announce pending break-glass actions and
    witness the audit head (release channel when a transport is configured, and the witness file)."""
    from bot.announcements.notifiers import build_notifier
    from bot.authority.witness import witness

    async def run() -> None:
        notifier = build_notifier(ctx.settings, store, terminal=False)
        if who.break_glass is not None:
            await announce_pending(store, notifier)
        await witness(store, notifier, why)

    asyncio.run(run())
    if who.break_glass is not None:
        print(f"🔨 break-glass {who.break_glass.id} recorded: it is announced in the release channel and listed in "
              f"`golive status` until someone holding a sign-off role runs `golive acknowledge {who.break_glass.id}`",
              file=sys.stderr if machine_output else sys.stdout)  # --json keeps stdout one JSON document


EXIT_REFUSED = EXIT_NO_GO
