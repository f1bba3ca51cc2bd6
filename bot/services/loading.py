"""Loading the service registry from the settings, every problem found at start as one `RegistryError` that
names the service and the field: a bot serving twenty services must not find a typo in the twentieth when
someone first types its name in chat.

    GOLIVE_SERVICES=services.yml      a services file (below)
    GOLIVE_SERVICES=checklists/       a folder: each *.yml / *.yaml checklist is one service, named by its `name`
    GOLIVE_CHECKLIST=hunter.yml       a registry of one, exactly as before services existed (the demo when unset)

The services file:

    default: hunter                   # owns the data from before services existed (default: the first)
    services:
      hunter:
        checklist: checklists/hunter.yml          # relative to the services file
        channels: {slack: [C0HUNTER1], teams: ["19:abc@thread.tacv2"]}
        roles: {tech_lead: [U01ABC], devops_lead: [S0GROUP1]}  # or "tech_lead=U01ABC;devops_lead=S0GROUP1"
      billing:
        checklist: billing.yml

A service's roles replace GOLIVE_ROLES for that service; a service without `roles` gets GOLIVE_ROLES.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.services.registry import Channels, Registry, RegistryError, Service, single
from bot.signoff.roles import RoleConfigError, apply_roles, parse_roles
from checks.loader import ChecklistError, load_checklist

if TYPE_CHECKING:
    from bot.settings import Settings
    from checks.spec import Checklist

FILE_KEYS = ("default", "services")
SERVICE_KEYS = ("checklist", "channels", "roles")
CHANNEL_KEYS = ("slack", "teams")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
RESERVED = "all"
"""`golive status --all` and `/golive status all`: never a service's name."""
MAX_SERVICES_BYTES = 1_000_000
_CHANNEL = re.compile(r"^\S{1,200}$")


def load_registry(settings: Settings, *, checklist: Path | None = None) -> Registry:
    """The services this bot serves, every checklist loaded and its roles applied.

    `checklist` is a `--checklist` given on the command line: a registry of one, as GOLIVE_CHECKLIST. A
    registry of one raises the checklist's own ChecklistError/RoleConfigError, word for word as before
    services existed; everything else raises RegistryError."""
    if settings.services is not None:
        if checklist is not None or settings.checklist is not None:
            which = "--checklist" if checklist is not None else "GOLIVE_CHECKLIST"
            raise RegistryError("", "GOLIVE_SERVICES", f"both GOLIVE_SERVICES and {which} are set: pick one (list "
                                "the checklist in the services file, and choose it with --service)")
        return load_services(Path(settings.services), roles=settings.roles)
    path = checklist or settings.checklist_path()
    loaded = load_checklist(path)
    apply_roles(loaded, settings.roles)
    return single(Path(path), checklist=loaded)


def load_services(path: Path, *, roles: str | None = None) -> Registry:
    """A services file or a folder of checklists; `roles` is GOLIVE_ROLES (for services without their own)."""
    if path.is_dir():
        return _folder(path, roles)
    data = _read(path)
    if not isinstance(data, dict):
        raise RegistryError("", "", f"{path} must be a mapping with `services:` (and optionally `default:`)")
    _no_unknown("", data, FILE_KEYS, "the services file takes")
    entries = data.get("services")
    if not isinstance(entries, dict) or not entries:
        raise RegistryError("", "services", f"{path} declares no services: add `services:` with one entry per "
                            "service, each naming its checklist")
    services = [_service(str(name), entry, path.parent, roles) for name, entry in entries.items()]
    return _registry(services, data.get("default"))


def _read(path: Path) -> Any:
    try:
        if path.exists() and not path.is_file():
            raise RegistryError("", "GOLIVE_SERVICES", f"{path} is not a regular file: point it at a services "
                                "YAML file or a folder of checklists")
        with path.open("rb") as handle:
            raw = handle.read(MAX_SERVICES_BYTES + 1)
    except FileNotFoundError:
        raise RegistryError("", "GOLIVE_SERVICES", f"{path} not found: point it at a services YAML file or a "
                            "folder of checklists") from None
    except OSError as exc:
        raise RegistryError("", "GOLIVE_SERVICES", f"cannot read {path} ({exc.strerror}): point it at a "
                            "readable services YAML file or folder of checklists") from None
    if len(raw) > MAX_SERVICES_BYTES:
        raise RegistryError("", "GOLIVE_SERVICES", f"{path} is larger than 1 MB; a services file names checklists, "
                            "it does not hold them")
    try:
        return yaml.load(raw.decode("utf-8"), Loader=_UniqueKeys)  # a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise RegistryError("", "GOLIVE_SERVICES", f"{path} is not UTF-8 text (byte {exc.start}); save it as "
                            "UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistryError("", "", f"{path}: invalid YAML{where}: {problem}") from None


class _UniqueKeys(yaml.SafeLoader):
    """safe_load that refuses a key given twice: a second `hunter:` must not silently replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int) and key in keys:
                raise RegistryError(str(key), "name", f"declared twice (line {key_node.start_mark.line + 1}): "
                                    "give each service its own name, each field once")
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def _no_unknown(service: str, data: Mapping[Any, Any], known: tuple[str, ...], what: str,
                prefix: str = "") -> None:
    for key in data:
        if key not in known:
            raise RegistryError(service, f"{prefix}{key}", f"unknown field; {what} {', '.join(known)}")


def _name(name: str, where: str = "") -> str:
    from bot.chatops.commands import VERBS

    if not NAME.match(name):
        raise RegistryError(name, "name", f"{where}a service name is lowercase letters, digits, - and _ "
                            "(at most 63, starting with a letter or digit), as typed after /golive: rename it")
    if name == RESERVED or name in VERBS:
        raise RegistryError(name, "name", f"{where}{name!r} is a /golive word (a verb or `all`), so "
                            "`/golive status {name}` would be ambiguous: rename the service")
    return name


def _service(name: str, entry: Any, base: Path, global_roles: str | None) -> Service:
    _name(name)
    if not isinstance(entry, dict):
        raise RegistryError(name, "checklist", "missing: give the service's checklist file, e.g. "
                            f"`{name}: {{checklist: {name}.yml}}`")
    _no_unknown(name, entry, SERVICE_KEYS, "a service takes")
    raw_path = entry.get("checklist")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise RegistryError(name, "checklist", "missing: give the service's checklist file (relative to the "
                            "services file)")
    path = Path(raw_path).expanduser()
    path = path if path.is_absolute() else base / path
    own_roles = _roles(name, entry.get("roles")) if "roles" in entry else None
    checklist = service_checklist(name, path, own_roles if own_roles is not None else global_roles,
                                  "roles" if own_roles is not None else "roles (GOLIVE_ROLES)")
    return Service(name=name, checklist_path=path, channels=_channels(name, entry.get("channels")),
                   roles=own_roles, checklist=checklist)


def service_checklist(name: str, path: Path, roles: str | None, roles_field: str = "roles") -> Checklist:
    """A service's checklist with its roles applied; a problem is a RegistryError naming the service and field."""
    try:
        checklist = load_checklist(path)
    except ChecklistError as exc:
        text = str(exc).replace("; pass --checklist PATH or set GOLIVE_CHECKLIST", "; fix the path (relative to "
                                "the services file)")
        raise RegistryError(name, "checklist", text) from None
    try:
        apply_roles(checklist, roles)
    except RoleConfigError as exc:
        raise RegistryError(name, roles_field, str(exc)) from None
    return checklist


def _roles(name: str, value: Any) -> str:
    """The GOLIVE_ROLES string form of a service's roles (a mapping role -> ids, or the string itself),
    checked with GOLIVE_ROLES' own parser."""
    if isinstance(value, str):
        spec = value
    elif isinstance(value, dict):
        parts = []
        for role, ids in value.items():
            members = [ids] if isinstance(ids, str) else ids
            if not isinstance(members, list) or not members or not all(isinstance(i, str) for i in members):
                raise RegistryError(name, f"roles.{role}", "must be a list of user or group ids, e.g. "
                                    f"{role}: [U01ABC, S0GROUP1]")
            parts.append(f"{role}={','.join(members)}")
        spec = ";".join(parts)
    else:
        raise RegistryError(name, "roles", "must map each role to its ids ({tech_lead: [U01ABC]}) or be a "
                            "GOLIVE_ROLES string (tech_lead=U01ABC;devops_lead=S0GROUP1)")
    if not spec.strip():
        raise RegistryError(name, "roles", "empty: list who holds each role, or leave `roles` out to use "
                            "GOLIVE_ROLES")
    try:
        parse_roles(spec)
    except RoleConfigError as exc:
        raise RegistryError(name, "roles", str(exc).replace("GOLIVE_ROLES entry", "entry")) from None
    return spec


def _channels(name: str, value: Any) -> Channels:
    if value is None:
        return Channels()
    if not isinstance(value, dict):
        raise RegistryError(name, "channels", "must map a transport to channel ids, e.g. {slack: [C0HUNTER1], "
                            "teams: ['19:abc@thread.tacv2']}")
    _no_unknown(name, value, CHANNEL_KEYS, "channels takes", prefix="channels.")
    out: dict[str, tuple[str, ...]] = {}
    for transport in CHANNEL_KEYS:
        ids = value.get(transport) or []
        ids = [ids] if isinstance(ids, str) else ids
        if not isinstance(ids, list) or not all(isinstance(i, str) and _CHANNEL.match(i) for i in ids):
            raise RegistryError(name, f"channels.{transport}", "must be a list of channel ids (Slack C…, Teams "
                                "19:…@thread.tacv2), without spaces")
        out[transport] = tuple(dict.fromkeys(ids))
    return Channels(slack=out["slack"], teams=out["teams"])


def _registry(services: list[Service], default: Any) -> Registry:
    seen: dict[str, Service] = {}
    owner: dict[str, str] = {}
    for service in services:
        if service.name in seen:
            raise RegistryError(service.name, "name", f"declared twice ({seen[service.name].checklist_path} and "
                                f"{service.checklist_path}): give each service its own name")
        seen[service.name] = service
        _one_service_per_checklist_name(service, services)
        for transport, ids in (("slack", service.channels.slack), ("teams", service.channels.teams)):
            for channel in ids:
                if channel in owner:
                    raise RegistryError(service.name, f"channels.{transport}", f"{channel} is already the release "
                                        f"channel of {owner[channel]!r}: a channel belongs to one service (use "
                                        "`/golive status <service>` elsewhere)")
                owner[channel] = service.name
    if default is None:
        chosen = services[0].name
    elif not isinstance(default, str) or default not in seen:
        raise RegistryError("", "default", f"{default!r} is not one of the services ({', '.join(seen)}): name the "
                            "service that owns the data from before services existed")
    else:
        chosen = default
    return Registry(tuple(_with_default(s, s.name == chosen) for s in services))


def _one_service_per_checklist_name(service: Service, services: list[Service]) -> None:
    """Chat threads and announcements are named by the checklist's `name` (`rollout:<name>:<phase>`), so two
    services sharing one would post into each other's threads: refuse it at start."""
    if service.checklist is None:
        return
    for other in services:
        if other is service:
            return
        if other.checklist is not None and other.checklist.name == service.checklist.name:
            raise RegistryError(service.name, "checklist", f"{service.checklist_path} has the same `name:` "
                                f"({service.checklist.name!r}) as the checklist of {other.name!r}: give each "
                                "service's checklist its own name (threads and announcements are named by it)")


def _with_default(service: Service, default: bool) -> Service:
    from dataclasses import replace

    return replace(service, default=default) if service.default != default else service


def _folder(folder: Path, roles: str | None) -> Registry:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        raise RegistryError("", "GOLIVE_SERVICES", f"{folder} holds no checklist (*.yml, *.yaml): add one per "
                            "service, or point GOLIVE_SERVICES at a services file")
    services = []
    for path in files:
        checklist = service_checklist(path.stem, path, roles, "roles (GOLIVE_ROLES)")
        name = _name(checklist.name, where=f"{path.name}: the checklist's `name` names the service; ")
        services.append(Service(name=name, checklist_path=path, checklist=checklist))
    return _registry(services, None)
