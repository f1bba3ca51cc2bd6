"""The desk: one bot serving every service of the registry. Each service gets its own ChatOps (its checklist,
its store and locks through `bot.services.state.scoped`) and, when its checklist has a rollout plan, its
own rollout runtime, so the inbound pipeline only has to pick the service and hand the verb to its ChatOps.

While a request (or an event of a service) is handled, `serving(service)` names the service in a context
variable; the transports stamp it into every button they draw (`service_tag`), so a click reaches the
service its card was posted for. With a single service nothing is stamped: today's buttons are unchanged,
and a button without a service belongs to the default service.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.services.registry import Registry, Service
from bot.services.state import scoped

if TYPE_CHECKING:
    from bot.chatops.service import ChatOps
    from bot.coordination.locks import Locks
    from bot.store import Store
    from checks.spec import Checklist

_SERVING: ContextVar[str | None] = ContextVar("golive_serving", default=None)

SERVICE_MARK = "#service="
"""How a Slack button value carries its service: `<value>#service=<name>` (a value never contains it)."""


def service_tag() -> str | None:
    """The service whose request or event is being handled, when the bot serves several (else None)."""
    return _SERVING.get()


@contextlib.contextmanager
def serving(name: str | None) -> Iterator[None]:
    """Name the service being served for everything drawn inside (None: a bot of one, nothing to name)."""
    token = _SERVING.set(name)
    try:
        yield
    finally:
        _SERVING.reset(token)


def tag_value(value: str) -> str:
    """A Slack button value with the service it was drawn for (unchanged for a bot of one)."""
    name = service_tag()
    return f"{value}{SERVICE_MARK}{name}" if name else value


def untag_value(value: str) -> tuple[str, str | None]:
    """(the button's own value, its service or None for a button drawn before services, or by a bot of one)."""
    plain, mark, name = (value or "").rpartition(SERVICE_MARK)
    return (plain, name or None) if mark else (value or "", None)


@dataclass
class Desk:
    """The registry and, per service name, its ChatOps and rollout runtime (None: no rollout plan)."""

    registry: Registry
    chatops: dict[str, ChatOps]
    rollouts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, registry: Registry, store: Store, locks: Locks, *, checklist: Callable[[Service], Checklist],
              make: Callable[[Store, Checklist, Locks], ChatOps]) -> Desk:
        """One ChatOps per service, each over its scoped store and locks (`make` builds it, e.g. with the
        runner `golive serve` uses); `checklist` loads a service's checklist."""
        ops = {}
        for service in registry:
            service_store, service_locks = scoped(store, locks, service)
            ops[service.name] = make(service_store, checklist(service), service_locks)
        return cls(registry, ops)

    @classmethod
    def of(cls, chatops: ChatOps) -> Desk:
        """A desk of one around an existing ChatOps: every caller that still hands over a single ChatOps."""
        name = chatops.checklist.name
        return cls(Registry((Service(name=name, checklist_path=Path(name), default=True),)), {name: chatops})

    @property
    def several(self) -> bool:
        return len(self.registry) > 1

    @property
    def default(self) -> ChatOps:
        """The default service's ChatOps: it owns what was written before services, and old buttons."""
        return self.chatops[self.registry.default.name]

    def ops(self, service: Service) -> ChatOps:
        return self.chatops[service.name]

    def each(self) -> Iterator[tuple[Service, ChatOps]]:
        for service in self.registry:
            yield service, self.chatops[service.name]

    def tag(self, service: Service) -> str | None:
        """The name stamped into buttons drawn for `service` (None for a bot of one: nothing changes)."""
        return service.name if self.several else None

    def serving(self, service: Service) -> contextlib.AbstractContextManager[None]:
        return serving(self.tag(service))

    def by_tag(self, name: str | None) -> Service:
        """The service a button names; no name (or one no longer served) is the default service."""
        return (self.registry.get(name) if name else None) or self.registry.default

    def all_ops(self) -> list[ChatOps]:
        return list(self.chatops.values())

    def view_of(self, kind: str, object_id: str) -> tuple[Store, Checklist]:
        """Whose store and checklist a web view page is read from: a run's or a sign-off request's own service,
        the service a checklist name names (status, rollout, record, audit); the default service otherwise."""
        from bot.signoff.service import SignoffService

        by_checklist = {ops.checklist.name: ops for ops in self.all_ops()}
        found: ChatOps | None = None
        if kind == "run":  # run ids are unique across services; the run names its checklist
            run = self.default.store.get_run(object_id)
            found = by_checklist.get(run.checklist) if run is not None else None
        elif kind == "signoff":  # each service's store holds only its own requests
            found = next((ops for ops in self.all_ops() if SignoffService(ops.store, ops.checklist).get(object_id)),
                         None)
        else:
            found = by_checklist.get(object_id)
        ops = found or self.default
        return ops.store, ops.checklist
