"""What a built Bolt app actually listens to (slash commands, action ids, view callback ids), read
from its registered listeners, so tests can hold the manifest and the code to each other."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp

_KINDS = {"command": "commands", "action": "actions", "block_action": "actions", "view_submission": "views"}
_CONSTRAINT_NAMES = ("command", "constraints", "callback_id")


@dataclass
class Registered:
    commands: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)


def _closure(fn: Any) -> dict[str, Any]:
    return dict(inspect.getclosurevars(fn).nonlocals) if callable(fn) else {}


def registered_handlers(app: AsyncApp) -> Registered:
    """Relies on how bolt builds its primary matchers (a closure over the constraint); if bolt changes
    that, this raises instead of silently reporting nothing."""
    found = Registered()
    for listener in app._async_listeners:
        primary = listener.matchers[0]
        inner = _closure(primary.func).get("func")  # type: ignore[attr-defined]  # bolt's matcher internals: its async wrapper keeps the sync matcher as `func`
        kind = getattr(inner, "__qualname__", "").split(".")[0]
        if kind not in _KINDS:
            continue
        values = _closure(inner)
        constraint = next((values[n] for n in _CONSTRAINT_NAMES if n in values), None)
        if isinstance(constraint, dict):
            constraint = constraint.get("action_id") or constraint.get("callback_id")
        if not isinstance(constraint, str):
            raise LookupError(f"cannot read the {kind} constraint of a bolt listener: {constraint!r}")
        getattr(found, _KINDS[kind]).add(constraint)
    return found
