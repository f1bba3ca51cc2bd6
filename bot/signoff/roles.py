"""Role membership from the bot's configuration (GOLIVE_ROLES), so who may sign off is deployment
config rather than something every team edits into the shared checklist file.

Format: `tech_lead=U01ABC,U02DEF;devops_lead=S0GROUP;product_owner=6f1c…-entra-object-id`.
Slack user group ids (S…) become groups; anything else is a user id (Slack U…/W… or Entra).
"""

from __future__ import annotations

import re

from bot.signoff.service import DEFAULT_STAGES
from checks.spec import Checklist

_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{6,}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$")
"""A Slack user/group id, an Entra object id or a Teams user id: no spaces, no wildcards."""


EVERYONE = frozenset({"everyone", "anyone", "all", "any", "*", "here", "channel", "public", "world", "users",
                      "!everyone", "!channel", "!here", "@everyone", "@channel", "@here", "<!everyone>",
                      "<!channel>", "<!here>"})
"""Names that would grant a role to everybody (chat broadcast keywords, wildcards): never a role member."""


class RoleConfigError(ValueError):
    """GOLIVE_ROLES cannot be read; the message says which entry and why."""


def parse_roles(spec: str) -> dict[str, tuple[list[str], list[str]]]:
    """`role=id,id;role=id` → {role: (members, groups)}."""
    roles: dict[str, tuple[list[str], list[str]]] = {}
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        role, sep, ids = entry.partition("=")
        role = role.strip()
        if not sep or not role or not ids.strip():
            raise RoleConfigError(f"GOLIVE_ROLES entry {entry!r} must look like role_id=U123,S456")
        members, groups = roles.setdefault(role, ([], []))
        for ident in filter(None, (i.strip() for i in ids.split(","))):
            if not _ID.match(ident):
                raise RoleConfigError(
                    f"GOLIVE_ROLES entry {entry!r}: {ident!r} is not a user or group id. Separate ids with commas "
                    f"(tech_lead=U01ABC,U02DEF); wildcards such as * are not supported, list the people or a "
                    f"Slack user group (S…) instead")
            if ident.lower() in EVERYONE:
                raise RoleConfigError(f"GOLIVE_ROLES entry {entry!r} grants {role} to everyone ({ident!r}): list the "
                                      "people (user ids) or a Slack user group (S…) who hold the role")
            (groups if _SLACK_GROUP.match(ident) else members).append(ident)
    return roles


def apply_roles(checklist: Checklist, spec: str | None) -> None:
    """Add configured members/groups to the checklist's roles (defaults used when it declares none)."""
    for stage_name, stage in checklist.signoffs.items():
        for role in stage.roles:
            wide = [i for i in (*role.members, *role.groups) if i.strip().lower() in EVERYONE]
            if wide:
                raise RoleConfigError(f"{checklist.source_path or checklist.name}: signoffs.{stage_name} role "
                                      f"`{role.id}` grants everyone ({wide[0]!r}): list the people who hold it")
    if not spec:
        return
    if not checklist.signoffs:
        checklist.signoffs = {name: stage.model_copy(deep=True) for name, stage in DEFAULT_STAGES.items()}
    configured = parse_roles(spec)
    known = {role.id for stage in checklist.signoffs.values() for role in stage.roles}
    unknown = sorted(set(configured) - known)
    if unknown:
        raise RoleConfigError(f"GOLIVE_ROLES names unknown role(s) {', '.join(unknown)}; "
                              f"roles of {checklist.name}: {', '.join(sorted(known))}")
    for stage in checklist.signoffs.values():
        for role in stage.roles:
            members, groups = configured.get(role.id, ([], []))
            role.members = [*role.members, *(m for m in members if m not in role.members)]
            role.groups = [*role.groups, *(g for g in groups if g not in role.groups)]
