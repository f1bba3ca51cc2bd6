"""Dotted JSON paths and the comparisons checks make on them.

Shared by the `http` kind (assertions on a response body) and the rollout watch (thresholds on a
metrics document), so both speak the same `path` / `op` / `value` language in checklists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "exists", "matches"]
OPS: tuple[str, ...] = get_args(Op)

OP_SYMBOL: dict[str, str] = {
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "in": "in", "not_in": "not in", "contains": "contains", "exists": "exists", "matches": "matches",
}


class _Missing:
    """The value of a path that is not in the document (distinct from a JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

_BRACKET = re.compile(r"\[(-?\d+)\]")


def split_path(path: str) -> list[str]:
    """`a.b[0].c` and `a.b.0.c` both become ['a', 'b', '0', 'c']; '' or '.' is the document itself."""
    path = _BRACKET.sub(r".\1", path.strip())
    return [part for part in path.split(".") if part != ""]


def get_path(data: Any, path: str, default: Any = MISSING) -> Any:
    """The value at a dotted path (list items by index, negative from the end), or `default`."""
    current = data
    for part in split_path(path):
        if isinstance(current, Mapping):
            if part in current:
                current = current[part]
                continue
            return default
        if isinstance(current, Sequence) and not isinstance(current, str | bytes):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return default
            continue
        return default
    return current


def _number(value: Any) -> float | None:
    """A number for ordering comparisons: numbers as they are, numeric strings (from ${VAR}) parsed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _equal(actual: Any, expected: Any) -> bool:
    """JSON equality that tolerates the string forms interpolation produces ("200", "true")."""
    if actual == expected and type(actual) is not bool and type(expected) is not bool:
        return True
    if isinstance(actual, bool) or isinstance(expected, bool):
        as_bool = {"true": True, "false": False}
        a = as_bool.get(actual.lower(), actual) if isinstance(actual, str) else actual
        e = as_bool.get(expected.lower(), expected) if isinstance(expected, str) else expected
        return isinstance(a, bool) and isinstance(e, bool) and a is e
    if isinstance(actual, str) != isinstance(expected, str):
        a, e = _number(actual), _number(expected)
        return a is not None and e is not None and a == e
    return False


def compare(actual: Any, op: str, expected: Any = None) -> bool:
    """Whether `actual <op> expected` holds; a missing value fails everything but `exists: false`."""
    if op == "exists":
        want = expected is None or _equal(expected, True)
        return (actual is not MISSING) == want
    if actual is MISSING:
        return False
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in ("lt", "le", "gt", "ge"):
        a, e = _number(actual), _number(expected)
        if a is None or e is None:
            return False
        return {"lt": a < e, "le": a <= e, "gt": a > e, "ge": a >= e}[op]
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, list | tuple | set) else [expected]
        found = any(_equal(actual, option) for option in options)
        return found if op == "in" else not found
    if op == "contains":
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list | tuple):
            return any(_equal(item, expected) for item in actual)
        if isinstance(actual, Mapping):
            return str(expected) in actual
        return False
    if op == "matches":
        return re.search(str(expected), actual if isinstance(actual, str) else _render(actual)) is not None
    raise ValueError(f"unknown comparison {op!r}; use one of {', '.join(OPS)}")


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(value: Any) -> str:
    """A value as a person reads it in a summary line: strings quoted, JSON null/true/false."""
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(value)
    text = _render(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Expectation(BaseModel):
    """One assertion on a JSON document: `{path: db.status, op: eq, value: ok}`."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="dotted path; list items by index, e.g. checks.0.status")
    op: Op = "eq"
    value: Any = None

    def expected_text(self) -> str:
        if self.op == "exists":
            return "present" if self.value in (None, True, "true") else "absent"
        return f"{OP_SYMBOL[self.op]} {describe(self.value)}"


def expectations_from(raw: Any) -> Any:
    """Accept the dict shorthand `{db.status: ok}` (meaning eq) besides the list form."""
    if isinstance(raw, Mapping):
        return [{"path": str(path), "op": "eq", "value": value} for path, value in raw.items()]
    return raw


@dataclass(frozen=True)
class Mismatch:
    """A failed assertion: where, what was found and what was wanted."""

    path: str
    op: str
    expected: Any
    actual: Any
    text: str

    def evidence(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "expected": self.expected,
                "actual": None if self.actual is MISSING else self.actual,
                "missing": self.actual is MISSING}


def evaluate(data: Any, expectations: Sequence[Expectation]) -> list[Mismatch]:
    """Every expectation that does not hold on `data`, in order."""
    failed = []
    for exp in expectations:
        actual = get_path(data, exp.path)
        try:
            ok = compare(actual, exp.op, exp.value)
        except re.error as exc:
            ok = False
            text = f"{exp.path}: bad pattern {exp.value!r} ({exc})"
            failed.append(Mismatch(exp.path, exp.op, exp.value, actual, text))
            continue
        if not ok:
            where = exp.path or "(document)"
            text = (f"{where} is missing, expected {exp.expected_text()}" if actual is MISSING
                    else f"{where} is {describe(actual)}, expected {exp.expected_text()}")
            failed.append(Mismatch(exp.path, exp.op, exp.value, actual, text))
    return failed


def first_difference(left: Any, right: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first path where two JSON documents differ, with both values; None when equal."""
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        for key in list(left) + [k for k in right if k not in left]:
            sub = f"{path}.{key}" if path else str(key)
            diff = first_difference(left.get(key, MISSING), right.get(key, MISSING), sub)
            if diff:
                return diff
        return None
    if isinstance(left, list) and isinstance(right, list):
        for index in range(max(len(left), len(right))):
            sub = f"{path}.{index}" if path else str(index)
            a = left[index] if index < len(left) else MISSING
            b = right[index] if index < len(right) else MISSING
            diff = first_difference(a, b, sub)
            if diff:
                return diff
        return None
    if left is MISSING or right is MISSING or type(left) is not type(right) or left != right:
        if isinstance(left, int | float) and isinstance(right, int | float) and not isinstance(left, bool) \
                and not isinstance(right, bool) and left == right:
            return None
        return (path or "(document)", left, right)
    return None
