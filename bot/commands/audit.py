"""`golive audit verify`: walk the audit log's keyed chain and compare it with the witnessed heads;
exit 0 when intact, 1 naming the first bad row, 2 when no audit key is configured."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.authority.witness import Head, check_heads, read_heads, read_slack_heads, witness_path
from bot.commands.common import UsageError
from bot.settings import get_settings
from bot.store import StoreMisconfigured, open_store
from bot.store.auditkey import AuditKeyError, keys_from_settings
from checks.masking import masker

EXIT_INTACT, EXIT_BROKEN = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the audit log: `golive audit verify` checks that no row was edited or removed")
    verbs = p.add_subparsers(dest="audit_command", metavar="VERB", parser_class=type(p))
    v = verbs.add_parser("verify", help="check every row's HMAC and the witnessed heads; exit 1 naming the first "
                                        "row that breaks the chain")
    v.add_argument("--no-channel", action="store_true", help="do not read the witnessed heads back from the "
                   "release channel (only the witness file)")
    v.set_defaults(func=verify)
    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def verify(args: argparse.Namespace) -> int:
    settings = get_settings()
    masker.add(settings.secret("database_url"))
    try:
        keys = keys_from_settings(generate=False)
    except AuditKeyError as exc:
        raise UsageError(f"{exc}") from None
    for key in keys.keys.values():
        masker.add(key.decode())
    try:
        store = open_store(settings.secret("database_url"), sqlite_path=settings.sqlite_path(), audit_keys=keys)
    except StoreMisconfigured as exc:
        raise UsageError(f"{exc}. Check GOLIVE_DATABASE_URL, or unset it to use the embedded SQLite store.") from None
    path = witness_path(settings)
    heads, witness_problem = read_heads(path, keys)
    channel_heads: list[Head] = []
    channel_note: str | None = None
    token, channel = settings.secret("slack_bot_token"), settings.slack_channel
    if token and channel and not args.no_channel:  # the copy the database owner cannot reach
        channel_heads, channel_note = asyncio.run(read_slack_heads(token, settings.slack_api_url, channel, keys))
    heads = sorted([*heads, *channel_heads], key=lambda h: h.seq)
    try:
        report = store.audit_report(watch=[h.seq for h in heads])
    finally:
        store.close()
    broken = report.broken or check_heads(report, heads)
    if broken is not None:
        print(f"golive: the audit log is broken at {broken} (rows before it are intact). Compare with a backup "
              "and find out who has write access to the store.", file=sys.stderr)
        return EXIT_BROKEN
    if witness_problem:
        print(f"golive: the witness file is not trustworthy: {witness_problem}. Restore it from a backup or "
              "compare it with the heads posted in the release channel.", file=sys.stderr)
        return EXIT_BROKEN
    print(f"audit log intact: {report.count} row(s), each chained to the one before")
    if report.unkeyed:
        print(f"  {report.unkeyed} row(s) unkeyed, before {report.unkeyed_until[:19]}Z (written before the audit key; "
              "the first keyed row seals them)")
    keyed = report.count - report.unkeyed
    if keyed:
        print(f"  {keyed} row(s) keyed (HMAC) with key(s) {', '.join(report.key_ids)}")
    if heads:
        print(f"  {len(heads)} witnessed head(s) all present ({len(heads) - len(channel_heads)} in {path}, "
              f"{len(channel_heads)} read back from the release channel); the last, row {heads[-1].seq}, on "
              f"{heads[-1].at}")
    else:
        print(f"  no witnessed heads in {path}: deleting the newest rows would go unnoticed until golive posts one")
    if channel_note:
        print(f"  note: {channel_note}; only the witness file was compared", file=sys.stderr)
    if keys.generated:
        print(f"  warning: the audit key is {keys.source}, generated beside the store; move it out "
              "(GOLIVE_AUDIT_KEY_FILE) so that owning the state dir is not enough to forge the log", file=sys.stderr)
    return EXIT_INTACT
