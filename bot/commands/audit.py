"""`golive audit verify`: walk the audit log's hash chain; exit 0 when intact, 1 at the first break."""

from __future__ import annotations

import argparse
import sys

from bot.commands.common import UsageError
from bot.settings import get_settings
from bot.store import StoreMisconfigured, open_store
from checks.masking import masker

EXIT_INTACT, EXIT_BROKEN = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit log: `golive audit verify` checks that no row was edited or removed")
    verbs = p.add_subparsers(dest="audit_command", metavar="VERB", parser_class=type(p))
    v = verbs.add_parser("verify", help="walk the hash chain; exit 1 naming the first row that breaks it")
    v.set_defaults(func=verify)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def verify(args: argparse.Namespace) -> int:
    settings = get_settings()
    masker.add(settings.secret("database_url"))
    try:
        store = open_store(settings.secret("database_url"), sqlite_path=settings.sqlite_path())
    except StoreMisconfigured as exc:
        raise UsageError(f"{exc}. Check GOLIVE_DATABASE_URL, or unset it to use the embedded SQLite store.") from None
    try:
        count, broken = store.verify_audit()
    finally:
        store.close()
    if broken is not None:
        print(f"golive: the audit log is broken at {broken} (rows before it are intact). Compare with a backup "
              "and find out who has write access to the store.", file=sys.stderr)
        return EXIT_BROKEN
    print(f"audit log intact: {count} row(s), each chained to the one before")
    return EXIT_INTACT
