"""`golive link <run ID|record|audit|status|rollout|signoff ID>`: print a fresh signed link to a page of
the web view, for whoever needs one and has only a terminal at hand (a chat link expired, say)."""

from __future__ import annotations

import argparse

from bot.commands.common import UsageError, add_checklist_arg, load_context

PAGES = ("status", "rollout", "record", "audit")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("link", help="print a fresh signed link to a web view page: a run ID, record, audit, status, "
                       "rollout, or signoff <request ID>")
    add_checklist_arg(p)
    p.add_argument("target", metavar="WHAT", help="a run ID, or one of: status, rollout, record, audit, signoff")
    p.add_argument("object_id", metavar="ID", nargs="?", help="the sign-off request ID (with `signoff`)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bot.web.links import LinkConfigError, from_settings

    ctx = load_context(args)
    try:
        linker = from_settings(ctx.settings)
    except LinkConfigError as exc:
        raise UsageError(str(exc)) from None
    if linker is None:
        raise UsageError("links need GOLIVE_PUBLIC_URL: set it to where `golive serve` is reachable (e.g. "
                         "https://golive.example.com), with the same link key as the server")
    target = args.target
    if target in PAGES:
        print(linker.url(target, ctx.checklist.name))
        return 0
    if target == "signoff":
        if not args.object_id:
            raise UsageError("`golive link signoff` needs the request ID (shown on the sign-off card)")
        kind, object_id = "signoff", args.object_id
    else:
        kind, object_id = "run", target
    store = ctx.store()
    try:
        found = store.get_run(object_id) is not None if kind == "run" else \
            store.db.fetchone("SELECT id FROM signoff_requests WHERE id = :id", {"id": object_id}) is not None
    finally:
        store.close()
    if not found:
        what = (f"no run {object_id!r} in the store; `golive history` lists recent runs with their IDs"
                if kind == "run" else f"no sign-off request {object_id!r} in the store")
        raise UsageError(f"{what} (or one of: {', '.join(PAGES)}, signoff <ID>)")
    print(linker.url(kind, object_id))  # type: ignore[arg-type]  # kind is "run" or "signoff"
    return 0
