"""The `golive` command line. Exit codes: 0 GO, 1 NO-GO, 2 bad usage or configuration."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator

from bot.commands.common import EXIT_USAGE, UsageError
from checks.masking import mask

# Each module registers its own subcommands; transports and rollout add theirs here.
COMMAND_MODULES = [
    "bot.commands.run",
    "bot.commands.status",
    "bot.commands.serve",
    "bot.commands.manifest",
    "bot.commands.rollout",
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
    with masked_output():
        try:
            return int(args.func(args) or 0)
        except UsageError as exc:
            print(f"golive: {mask(str(exc))}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("golive: interrupted", file=sys.stderr)
            return 130


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Every verb prints and logs through the masker: stdout/stderr masked, logging set up (WARNING)."""
    from bot.observability import MaskedStream, remove_logging, setup_cli_logging
    from bot.settings import get_settings

    try:
        settings = get_settings()
    except Exception:  # a bad setting is reported by the verb that needs it, with its own message
        settings = None
    out, err, level = sys.stdout, sys.stderr, logging.getLogger().level
    sys.stdout, sys.stderr = MaskedStream(out), MaskedStream(err)  # type: ignore[assignment]
    setup_cli_logging(settings, stream=sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        remove_logging()
        logging.getLogger().setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
