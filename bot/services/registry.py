"""The service registry: which services one bot serves, and for each its checklist, release channels and roles.

`GOLIVE_SERVICES` names a services file (YAML) or a folder of checklists. Without it, `GOLIVE_CHECKLIST`
(or the bundled demo) is a registry of one, so nothing changes for a single-service install.

The *default* service owns the data written before services existed: its store key is `DEFAULT_KEY`,
every other service's key is its name (see `Service.store_key`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checks.spec import Checklist

DEFAULT_KEY = "default"
"""The store key of the default service: the value migration 0008 gives every row written before services."""


class RegistryError(ValueError):
    """The services file cannot be used; the message names the service and the field, and says what to do."""

    def __init__(self, service: str, field_name: str, problem: str) -> None:
        self.service = service
        self.field = field_name
        where = f"service {service!r}" if service else "the services file"
        super().__init__(f"{where}: {field_name}: {problem}" if field_name else f"{where}: {problem}")


@dataclass(frozen=True)
class Channels:
    """Release channels of one service, per transport: Slack channel ids (C…), Teams conversation ids (19:…)."""

    slack: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.slack, *self.teams)


@dataclass(frozen=True)
class Service:
    """One service a bot serves. `roles` uses the GOLIVE_ROLES format (`tech_lead=U1,U2;devops_lead=S0G`);
    None means the bot-wide GOLIVE_ROLES applies."""

    name: str
    checklist_path: Path
    channels: Channels = field(default_factory=Channels)
    roles: str | None = None
    default: bool = False
    checklist: Checklist | None = field(default=None, compare=False, repr=False)
    """The loaded checklist, its roles applied (`load_registry` fills it; None for a bare declaration)."""

    @property
    def store_key(self) -> str:
        """What the store, locks and leases key this service's state by."""
        return DEFAULT_KEY if self.default else self.name


@dataclass(frozen=True)
class Registry:
    """The services of one bot, in declaration order; exactly one is the default."""

    services: tuple[Service, ...]

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    @property
    def default(self) -> Service:
        return next((s for s in self.services if s.default), self.services[0])

    def only(self) -> Service | None:
        """The service when there is exactly one (then no command needs to name it)."""
        return self.services[0] if len(self.services) == 1 else None

    def get(self, name: str) -> Service | None:
        wanted = name.strip().lower()
        return next((s for s in self.services if s.name.lower() == wanted), None)

    def nearest(self, name: str, n: int = 3) -> list[str]:
        """Known service names closest to a mistyped one, best first (for "did you mean")."""
        return difflib.get_close_matches(name.strip().lower(), [s.name.lower() for s in self.services], n=n,
                                         cutoff=0.5)

    def channel_map(self) -> Mapping[str, Service]:
        return {channel: s for s in self.services for channel in s.channels.all()}

    def for_channel(self, channel_id: str | None) -> Service | None:
        """The service a release channel is mapped to, if any."""
        return self.channel_map().get(channel_id or "")


def single(checklist_path: Path, *, name: str | None = None, checklist: Checklist | None = None) -> Registry:
    """A registry of one: today's `GOLIVE_CHECKLIST` install (the bundled demo when unset). The service is
    named by its checklist's `name` (the file's stem when no checklist is given)."""
    name = name or (checklist.name if checklist is not None else checklist_path.stem)
    return Registry((Service(name=name, checklist_path=checklist_path, default=True, checklist=checklist),))
