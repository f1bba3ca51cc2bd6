"""What every subcommand needs: settings, the checklist, the store, and clean exits on bad input."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.diagnostics.observability import register_secrets
from bot.services.registry import Registry, RegistryError, Service, single
from bot.settings import Settings, get_settings
from bot.signoff.roles import RoleConfigError
from bot.store import Store, StoreMisconfigured, StoreUnavailable, open_store
from bot.store.auditkey import AuditKeyError
from checks.loader import ChecklistError
from checks.masking import mask
from checks.spec import Checklist
from checks.verdict import Decision, Verdict

if TYPE_CHECKING:
    from bot.coordination.locks import Locks

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
    """--checklist and --service: which checklist a verb acts on, for every verb that takes one."""
    parser.add_argument("--checklist", "-c", type=Path, help="checklist YAML (default: $GOLIVE_CHECKLIST, "
                        "else the bundled demo)")
    parser.add_argument("--service", "-s", metavar="NAME", help="the service to act on, by its name in "
                        "GOLIVE_SERVICES (default: the only one)")


@dataclass
class Context:
    """The settings, the service registry, and the service this command acts on: `checklist` is that
    service's checklist with its roles applied."""

    settings: Settings
    checklist: Checklist
    registry: Registry | None = None
    service: Service | None = None

    def __post_init__(self) -> None:
        if self.service is None:  # built around one checklist (tests, tools): a registry of one
            path = Path(self.checklist.source_path) if self.checklist.source_path else Path(self.checklist.name)
            self.registry = self.registry or single(path, checklist=self.checklist)
            self.service = self.registry.default
        elif self.registry is None:
            self.registry = Registry((self.service,))

    @property
    def is_demo(self) -> bool:
        return self.checklist.demo

    @property
    def store_key(self) -> str:
        """What the selected service's state is keyed by in the shared store."""
        assert self.service is not None
        return self.service.store_key

    def store(self) -> Store:
        """The selected service's view of the shared store (bot.services.state.scoped)."""
        return self.scoped(self.shared_store())

    def scoped(self, store: Store, service: Service | None = None) -> Store:
        """`store` keyed by a service (the selected one by default): what one service records, no other sees."""
        from bot.coordination.locks import LocalLocks

        return self.scoped_with_locks(store, LocalLocks(), service)[0]

    def scoped_with_locks(self, store: Store, locks: Locks, service: Service | None = None,
                          ) -> tuple[Store, Locks]:
        """The store and locks of a service (the selected one by default), for commands that take locks."""
        from bot.services.state import scoped

        service = service or self.service
        assert service is not None
        return scoped(store, locks, service)

    def shared_store(self) -> Store:
        """The one store every service shares (open it once, scope it per service)."""
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


SERVES_EVERY_SERVICE = frozenset({"serve"})
"""Verbs that act on every service at once: without --service they need not pick one."""


def load_registry_or_exit(args: argparse.Namespace, settings: Settings) -> Registry:
    """The registry, or exit 2 with one line naming the service and the field."""
    from bot.services.loading import load_registry

    try:
        return load_registry(settings, checklist=getattr(args, "checklist", None))
    except (RegistryError, ChecklistError, RoleConfigError) as exc:
        raise UsageError(_registry_message(exc, settings)) from None


def _registry_message(exc: Exception, settings: Settings) -> str:
    if isinstance(exc, RegistryError) and settings.services is not None:
        return f"GOLIVE_SERVICES ({settings.services}): {exc}"
    return str(exc)


def select_service(registry: Registry, name: str | None, *, every: bool = False) -> Service:
    """The service `--service NAME` names; the only one without it (the default one for verbs that serve
    every service). Several and no name, or an unknown name: exit 2 saying what to type."""
    if name is None:
        only = registry.only()
        if only is not None:
            return only
        if every:
            return registry.default
        raise UsageError(f"{len(registry)} services are configured ({', '.join(registry.names)}): name one with "
                         "--service NAME (or `golive status --all` for all of them)")
    found = registry.get(name)
    if found is not None:
        return found
    near = registry.nearest(name)
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise UsageError(f"no service {name!r}{hint}; the services are {', '.join(registry.names)}: pass one to "
                     "--service")


def load_every_service(args: argparse.Namespace) -> Context:
    """For verbs over every service (`status --all`, `doctor`): the whole registry, the default service
    selected (a `--service` given selects that one)."""
    settings = get_settings()
    register_secrets(settings)
    registry = load_registry_or_exit(args, settings)
    service = select_service(registry, getattr(args, "service", None), every=True)
    assert service.checklist is not None
    return Context(settings=settings, checklist=service.checklist, registry=registry, service=service)


def load_context(args: argparse.Namespace) -> Context:
    settings = get_settings()
    register_secrets(settings)
    registry = load_registry_or_exit(args, settings)
    service = select_service(registry, getattr(args, "service", None),
                             every=getattr(args, "command", None) in SERVES_EVERY_SERVICE)
    assert service.checklist is not None  # load_registry loads every service's checklist
    return Context(settings=settings, checklist=service.checklist, registry=registry, service=service)


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
