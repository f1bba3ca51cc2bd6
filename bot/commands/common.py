"""What every subcommand needs: settings, the checklist, the store, and clean exits on bad input."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.diagnostics.observability import register_secrets
from bot.settings import Settings, get_settings
from bot.signoff.roles import RoleConfigError, apply_roles
from bot.store import Store, StoreMisconfigured, StoreUnavailable, open_store
from bot.store.auditkey import AuditKeyError
from checks.loader import ChecklistError, load_checklist
from checks.masking import mask
from checks.spec import Checklist
from checks.verdict import Decision, Verdict

EXIT_GO, EXIT_NO_GO, EXIT_USAGE, EXIT_UNDECIDED = 0, 1, 2, 3
"""The exit codes (README "Exit codes"): run/status 0 GO, 1 NO-GO, 2 usage/config, 3 could not decide;
promote/rollback/resume/waive/freeze 0 done, 1 refused, 2 usage/config, 3 failed."""


def verdict_exit(verdict: Verdict, *, strict: bool = False) -> int:
    """0 GO (conditional too, unless strict), 1 NO-GO: how `run` and `status` end."""
    if verdict.decision is Decision.NO_GO or (strict and verdict.decision is Decision.CONDITIONAL):
        return EXIT_NO_GO
    return EXIT_GO


class UsageError(Exception):
    """Bad usage or configuration: printed without a traceback, exit code 2."""


def add_checklist_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checklist", "-c", type=Path, help="checklist YAML (default: $GOLIVE_CHECKLIST, "
                        "else the bundled demo)")


@dataclass
class Context:
    settings: Settings
    checklist: Checklist

    @property
    def is_demo(self) -> bool:
        return self.checklist.demo

    def store(self) -> Store:
        try:
            store = open_store(self.settings.secret("database_url"), sqlite_path=self.settings.sqlite_path(),
                               timeout=self.settings.store_timeout)
        except StoreMisconfigured as exc:
            raise UsageError(f"{exc}. Check GOLIVE_DATABASE_URL, or unset it to use the embedded SQLite store.") \
                from None
        except StoreUnavailable as exc:  # an outage, a read-only state dir, a full disk: exit 3, not 2
            if not self.settings.database_url:  # the SQLite store's message already names its directory
                raise
            raise StoreUnavailable(f"{str(exc).rstrip('.')}. Check GOLIVE_DATABASE_URL, or unset it to use the "
                                   "embedded SQLite store.") from None
        return store


def require_audit_key(store: Store) -> None:
    """Resolve the audit key before anything is changed: a missing or unsafe one is configuration (exit 2),
    never a traceback at the first audited action. Read-only verbs (status, run) never need it."""
    try:
        store.audit_keys  # noqa: B018 - resolving it is the point
    except AuditKeyError as exc:
        raise UsageError(str(exc)) from None


def load_context(args: argparse.Namespace) -> Context:
    settings = get_settings()
    register_secrets(settings)
    path = getattr(args, "checklist", None) or settings.checklist_path()
    try:
        checklist = load_checklist(path)
        apply_roles(checklist, settings.roles)
    except (ChecklistError, RoleConfigError) as exc:
        raise UsageError(str(exc)) from None
    return Context(settings=settings, checklist=checklist)


@contextlib.contextmanager
def demo_target(ctx: Context) -> Iterator[str | None]:
    """Start the bundled demo service when the checklist asks for it; yields its URL (GOLIVE_DEMO_URL).

    The URL becomes the checklist's own default for ${GOLIVE_DEMO_URL}, so every path that runs checks
    (the CLI, `golive serve` in Slack and Teams, scheduled runs) reaches the demo without extra wiring."""
    if not ctx.is_demo:
        yield None
        return
    from bot.demo.server import serve_target

    with serve_target(legacy="supported") as target:
        ctx.checklist.vars["GOLIVE_DEMO_URL"] = target.base_url
        yield target.base_url


def fail(message: str) -> int:
    print(f"golive: {mask(message)}", file=sys.stderr)
    return EXIT_USAGE


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number in [low, high]: anything else is a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse
