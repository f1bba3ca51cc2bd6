"""Which service a chat request is for, written once for every transport (the inbound pipeline calls it).

A typed command: a first argument that names a service exactly (`/golive status hunter`, `/golive run hunter
day1`) wins; else the service its channel is mapped to; else the only service. With several services and none
of these, `status` is an overview of every service and any other verb is answered with the services to choose
from; a first argument close to a service's name gets "did you mean". A click carries the service its card was
drawn for (`bot.services.desk.service_tag`); a click without one is the default service's (an older card).

With a single service, a first argument that is also one of its phases, checks, rollout phases or sign-off
stages keeps today's meaning: `run day1` runs day1 even in a service called day1.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.chatops.commands import VERBS, parse_command
from bot.chatops.replies import Failed
from bot.services.desk import Desk
from bot.services.registry import Service
from bot.store import StoreUnavailable
from checks.spec import Checklist

if TYPE_CHECKING:
    from bot.chatops.service import ChatOps

SERVICE_FREE_VERBS = frozenset({"help"})
"""Verbs that mean the same for every service: answered for the channel's (or the default) service."""


@dataclass(frozen=True)
class Routed:
    service: Service
    command: Any


@dataclass(frozen=True)
class Overview:
    """`status` with several services and none chosen: one line per service (built by the pipeline)."""


def own_ids(checklist: Checklist) -> set[str]:
    """Words a single service's commands take as arguments today (they keep that meaning)."""
    ids = {p.id for p in checklist.phases} | {c.id for c in checklist.all_checks()} | {"all", "pre", "post"}
    if checklist.rollout is not None:
        ids |= {p.id for p in checklist.rollout.phases}
    ids |= set(getattr(checklist, "signoffs", None) or {})
    return {i.lower() for i in ids}


def services_list(desk: Desk) -> str:
    return ", ".join(f"`{name}`" for name in desk.registry.names)


def which_service(desk: Desk, words: list[str]) -> Failed:
    verb, rest = words[0].lower(), words[1:]
    form = " ".join(["/golive", verb, "<service>", *rest])
    return Failed(f"this bot serves several services ({services_list(desk)}) and this channel is not mapped to "
                  f"one: name the service, e.g. `{form}`")


def unknown_service(desk: Desk, name: str, words: list[str]) -> Failed:
    near = desk.registry.nearest(name)
    did_you_mean = f"; did you mean {' or '.join(f'`{n}`' for n in near)}?" if near else ""
    return Failed(f"no service `{name}`{did_you_mean} This bot serves {services_list(desk)}: "
                  f"`/golive {words[0].lower()} <service> …`")


def route_text(desk: Desk, text: str, command: Any, channel: str | None) -> Routed | Overview | Failed:
    """The service of a typed command and the command it runs there (the service's name taken out)."""
    registry = desk.registry
    words = (text or "").split()
    verb = words[0].lower() if words else ""
    mapped = registry.for_channel(channel)
    fallback = mapped or registry.only()
    if verb not in VERBS or VERBS[verb].name in SERVICE_FREE_VERBS:
        return Routed(fallback or registry.default, command)
    if len(words) > 1 and (named := registry.get(words[1])) is not None:
        alone = registry.only()
        if not (alone is not None and words[1].lower() in own_ids(desk.ops(alone).checklist)):
            return Routed(named, parse_command(" ".join([words[0], *words[2:]])))
    if fallback is not None:
        return Routed(fallback, command)
    if len(words) > 1 and registry.nearest(words[1]):
        return unknown_service(desk, words[1], words)
    if verb == "status" and len(words) == 1:
        return Overview()
    return which_service(desk, words)


def route_click(desk: Desk, tag: str | None) -> Routed | Failed:
    """A click's service: the one its card names, else the default service (a card from before services)."""
    if tag and desk.registry.get(tag) is None:
        return Failed(f"this button is for the service `{tag}`, which this bot no longer serves "
                      f"(it serves {services_list(desk)})")
    return Routed(desk.by_tag(tag), None)


def _open_incidents(ops: ChatOps) -> list[dict[str, Any]]:
    from bot.rollout.records import RolloutRecords

    if ops.checklist.rollout is None:
        return []
    return RolloutRecords(ops.store, ops.checklist.name).open_incidents()


def missing_summary(missing: list[str], names_up_to: int = 3) -> str:
    """The missing sign-offs of one overview line: named when few, else counted per stage, so fifty
    services still fit one message (`/golive status <service>` names them all)."""
    if not missing:
        return "sign-offs complete"
    if len(missing) <= names_up_to:
        return f"missing sign-offs: {', '.join(missing)}"
    stages: dict[str, int] = {}
    for entry in missing:  # "Tech Lead (pre)"
        stage = entry.rsplit("(", 1)[-1].rstrip(")") if entry.endswith(")") else "other"
        stages[stage] = stages.get(stage, 0) + 1
    return f"{len(missing)} sign-offs missing ({', '.join(f'{stage}: {n}' for stage, n in stages.items())})"


async def service_line(service: Service, ops: ChatOps) -> str:
    """`hunter`: verdict · rollout phase · open incidents · missing sign-offs (or why it cannot be read now)."""
    from bot.runs.status import build_status

    try:
        status = await asyncio.to_thread(build_status, ops.store, ops.checklist)
    except StoreUnavailable as exc:
        return f"• `{service.name}`: cannot be read now ({exc})"
    incidents: list[dict[str, Any]] = []
    with contextlib.suppress(Exception):  # a store without rollout records yet: none open
        incidents = await asyncio.to_thread(_open_incidents, ops)
    levels = ", ".join(sorted({str(i.get("level") or "") for i in incidents} - {""}))
    parts = [status.verdict.decision.label,
             f"rollout {status.rollout_phase}" if status.rollout_phase else "no rollout phase",
             f"{len(incidents)} open incident{'s' if len(incidents) != 1 else ''}" + (f" ({levels})" if levels else ""),
             missing_summary(status.missing_signoffs)]
    return f"• `{service.name}`: " + " · ".join(parts)
