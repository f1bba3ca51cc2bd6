"""`${VAR}` / `${VAR:-default}` interpolation of checklist params against the target's settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


class MissingVariable(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (f"variable {self.name} is not set in the target's settings and has no default "
                f"(write ${{{self.name}:-value}} or add it under `vars:`)")


def has_reference(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def interpolate(value: Any, env: Mapping[str, str], *, strict: bool = True) -> Any:
    """Replace references in every string of a nested structure.

    A string that is exactly one reference to an unset variable with no default raises
    MissingVariable when strict; otherwise it becomes None, so optional params stay optional.
    """
    if isinstance(value, str):
        return _interpolate_str(value, env, strict)
    if isinstance(value, Mapping):
        return {k: interpolate(v, env, strict=strict) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, strict=strict) for v in value]
    return value


def _interpolate_str(text: str, env: Mapping[str, str], strict: bool) -> str | None:
    whole = _REF.fullmatch(text)
    if whole and whole["name"] and whole["default"] is None and whole["name"] not in env:
        if strict:
            raise MissingVariable(whole["name"])
        return None
    return _REF.sub(lambda m: resolve(m, env, strict=strict), text)


def resolve(match: re.Match[str], env: Mapping[str, str], *, strict: bool = True) -> str:
    """The text one reference (a match of REFERENCE) stands for: a value, its default, or `$` for `$$`."""
    if match.group(0) == "$$":
        return "$"
    name, default = match["name"], match["default"]
    if name in env and (env[name] != "" or default is None):
        return env[name]
    if default is not None:
        return default
    if strict:
        raise MissingVariable(name)
    return ""


REFERENCE = _REF


def referenced_names(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m["name"] for m in _REF.finditer(value) if m["name"])
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= referenced_names(v)
    elif isinstance(value, list):
        for v in value:
            found |= referenced_names(v)
    return found
