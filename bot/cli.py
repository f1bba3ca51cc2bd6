"""The `golive` command line. Exit codes: 0 GO / done, 1 NO-GO / refused, 2 bad usage or configuration,
3 could not decide / failed (the store or other infrastructure is down: never reported as NO-GO).

Start-up is kept light on purpose (`golive status` runs in CI steps and terminals, where a second of
imports feels broken): the table below names each verb's module and one-line help, so `golive --help`
imports none of them, and `golive <verb>` imports only the module that owns the verb. A test checks
that the table agrees with what the modules register.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO, cast

from bot.chatops.commands import terminal_twins  # light: the chat verb declarations only

EXIT_USAGE, EXIT_UNDECIDED = 2, 3

# verb -> (module that registers it, its help line). A module may register several verbs. The verbs that are
# also chat verbs (run, status, promote, waive, ...) come from their declaration in bot.chatops.commands.
TERMINAL_ONLY: dict[str, tuple[str, str]] = {
    "checks": ("bot.commands.status", "list the phases and checks a checklist contains, and the watch rules "
               "that cannot be evaluated against the target (blind)"),
    "serve": ("bot.commands.serve", "run the Slack bot (Socket Mode, or --http with a signing secret)"),
    "manifest": ("bot.commands.manifest", "print the Slack app manifest with the request URLs filled in"),
    "audit": ("bot.commands.audit", "the audit log: `golive audit verify` checks that no row was edited or removed"),
    "doctor": ("bot.commands.doctor", "check tokens, scopes, channel, roles, checklist, target, store and Redis"),
    "prune": ("bot.commands.prune", "delete history older than an age (dry run unless --yes)"),
    "link": ("bot.commands.link", "print a fresh signed link to a web view page: a run ID, record, audit, status, "
             "rollout, or signoff <request ID>"),
    "watch": ("bot.commands.rollout", "watch the rollout in the foreground (leader-elected), printing alerts"),
}
COMMANDS: dict[str, tuple[str, str]] = {**terminal_twins(), **TERMINAL_ONLY}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # exits 2 (argparse: NoReturn)
        self.print_usage(sys.stderr)
        print(f"golive: {message}. Run `golive --help` for the commands.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    parser = Parser(prog="golive", description="Run a production go-live: readiness checks, Go/No-Go, "
                    "sign-offs, flag rollout. Without --checklist it uses the bundled demo.")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=Parser)
    return parser, sub


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The full parser for `verb` (its module imported and registered), the other verbs as help-only
    stubs; with no verb, every module is registered (for tests and tools that want the whole tree)."""
    parser, sub = _top_parser()
    modules = [COMMANDS[verb][0]] if verb in COMMANDS else list(dict.fromkeys(m for m, _ in COMMANDS.values()))
    registered: set[str] = set()
    for name in modules:
        before = set(sub.choices)
        importlib.import_module(name).register(sub)
        registered |= set(sub.choices) - before
    if verb in COMMANDS:
        for name, (_, help_line) in COMMANDS.items():
            if name not in registered:
                sub.add_parser(name, help=help_line)
    return parser


def help_parser() -> argparse.ArgumentParser:
    """`golive --help` without importing any command module."""
    parser, sub = _top_parser()
    for name, (_, help_line) in COMMANDS.items():
        sub.add_parser(name, help=help_line)
    return parser


def _verb(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = _verb(argv)
    if verb not in COMMANDS:
        parser = help_parser()
        parser.parse_args(argv)  # prints help and exits 0, or the usage error for an unknown verb
        parser.print_help()
        return EXIT_USAGE
    if verb == "serve":  # a SIGTERM/SIGINT from here until it runs ends it with exit 0, no traceback
        from bot.serving.startup import reached, stop_signals_deferred

        with stop_signals_deferred():
            reached("imports")
            return _dispatch(verb, argv)
    return _dispatch(verb, argv)


def _dispatch(verb: str, argv: list[str]) -> int:
    parser = build_parser(verb)
    from bot.commands.common import UsageError
    from bot.settings import SecretFileError
    from bot.store import StoreUnavailable
    from checks.masking import mask

    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    with masked_output():
        try:
            return int(args.func(args) or 0)
        except (UsageError, SecretFileError) as exc:
            print(f"golive: {mask(str(exc))}", file=sys.stderr)
            return EXIT_USAGE
        except StoreUnavailable as exc:
            print(f"golive: could not decide: {mask(str(exc))}. Nothing was concluded about the target; fix the "
                  "store (GOLIVE_DATABASE_URL) and run again.", file=sys.stderr)
            return EXIT_UNDECIDED
        except KeyboardInterrupt:
            print("golive: interrupted", file=sys.stderr)
            return 130


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Every verb prints and logs through the masker: stdout/stderr masked, logging set up (WARNING)."""
    from bot.diagnostics.observability import MaskedStream, remove_logging, setup_cli_logging
    from bot.settings import get_settings

    try:
        settings = get_settings()
    except Exception:  # a bad setting is reported by the verb that needs it, with its own message
        settings = None
    out, err, level = sys.stdout, sys.stderr, logging.getLogger().level
    sys.stdout, sys.stderr = cast(TextIO, MaskedStream(out)), cast(TextIO, MaskedStream(err))
    setup_cli_logging(settings, stream=sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        remove_logging()
        logging.getLogger().setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
