"""Group membership lookups. A checklist role names users and groups; only a transport knows a
group's members (Slack user groups), so each transport supplies its own directory."""

from __future__ import annotations

from typing import Protocol


class Directory(Protocol):
    async def group_members(self, group_id: str) -> frozenset[str]: ...


class StaticDirectory:
    """Groups known up front (tests, transports without groups): unknown groups have no members."""

    def __init__(self, groups: dict[str, set[str]] | None = None) -> None:
        self.groups = {k: frozenset(v) for k, v in (groups or {}).items()}

    async def group_members(self, group_id: str) -> frozenset[str]:
        return self.groups.get(group_id, frozenset())
