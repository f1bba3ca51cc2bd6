"""The `golive` command line. Exit codes: 0 GO / done, 1 NO-GO / refused, 2 bad usage or configuration,
3 could not decide / failed (the store or other infrastructure is down: never reported as NO-GO)."""

from __future__ import annotations

import argparse
import importlib
import sys

from bot.commands.common import EXIT_UNDECIDED, EXIT_USAGE, UsageError
from bot.store import StoreUnavailable
from checks.masking import mask

# Each module registers its own subcommands; transports and rollout add theirs here.
COMMAND_MODULES = [
    "bot.commands.run",
    "bot.commands.status",
    "bot.commands.serve",
    "bot.commands.manifest",
    "bot.commands.rollout",
    "bot.commands.audit",
    "bot.commands.waive",
    "bot.commands.freeze",
]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"golive: {message}. Run `golive --help` for the commands.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="golive", description="Run a production go-live: readiness checks, Go/No-Go, "
                    "sign-offs, flag rollout. Without --checklist it uses the bundled demo.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"golive: {mask(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:
        print(f"golive: could not decide: {mask(str(exc))}. Nothing was concluded about the target; fix the "
              "store (GOLIVE_DATABASE_URL) and run again.", file=sys.stderr)
        return EXIT_UNDECIDED
    except KeyboardInterrupt:
        print("golive: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
