"""Loading and validating checklist files. Every error names the file and the path of the bad key."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from checks.interpolate import has_reference
from checks.registry import get_kind, known_kinds
from checks.spec import Checklist, CheckSpec

MAX_CHECKLIST_BYTES = 1_000_000
"""A checklist is a config file: anything bigger is refused before it is parsed."""
MAX_DEPTH = 50
"""Nesting deeper than this is refused before or while composing (PyYAML's composers recurse)."""
MAX_ALIAS_EXPANSION = 10_000
"""Values that YAML aliases may add once expanded (a billion-laughs file adds 10^9)."""


class ChecklistError(ValueError):
    """A checklist that cannot be used. `str()` is the message a user should read."""

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        self.file, self.key_path, self.problem = file, key_path, problem
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {problem}")


def bundled_checklist(name: str) -> Path:
    """Path of a checklist shipped with golive (`hunter`, `demo`)."""
    return Path(str(resources.files("checklists") / f"{name}.yml"))


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _value_at(data: Any, parts: tuple[Any, ...]) -> Any:
    for part in parts:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting while composing and counts what aliases expand to, so a
    hostile file costs neither the recursion limit nor gigabytes of memory."""

    def __init__(self, stream: str, name: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._name = name

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # PyYAML's composer is untyped
                raise ChecklistError(self._name, f"line {mark.line + 1}",
                                     f"nested deeper than {MAX_DEPTH} levels; a checklist never needs that much "
                                     f"nesting, so flatten it")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is expanded (memoised: linear in distinct nodes)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a self-referencing alias counts once instead of looping
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def _distinct_size(node: yaml.Node, seen: set[int]) -> int:
    if id(node) in seen:
        return 0
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(_distinct_size(child, seen) for child in node.value)
    if isinstance(node, yaml.MappingNode):
        return 1 + sum(_distinct_size(k, seen) + _distinct_size(v, seen) for k, v in node.value)
    return 1


_CLoader: Any = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader, when PyYAML was built with it: composing in C takes a tenth of the pure-Python
composer's time (the bundled checklists load on every `golive` start)."""
_NODE_EVENTS = (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
_OPEN_EVENTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _refuse_deep_nesting(text: str, name: str) -> None:
    """Before libyaml composes (recursively, in C): walk the parser's events, which come one at a time, and
    refuse a node nested deeper than MAX_DEPTH exactly where _BoundedLoader.compose_node would."""
    parser = _CLoader(text)
    depth = 0  # collections open around the next event
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, _NODE_EVENTS) and depth + 1 > MAX_DEPTH:
                mark = event.start_mark
                raise ChecklistError(name, f"line {mark.line + 1}" if mark else "",
                                     f"nested deeper than {MAX_DEPTH} levels; a checklist never needs that much "
                                     f"nesting, so flatten it")
            if isinstance(event, _OPEN_EVENTS):
                depth += 1
            elif isinstance(event, _CLOSE_EVENTS):
                depth -= 1
    finally:
        parser.dispose()


def _safe_yaml(text: str, name: str) -> Any:
    """yaml.safe_load within bounds: size, nesting depth and alias expansion."""
    if len(text) > MAX_CHECKLIST_BYTES or len(text.encode("utf-8")) > MAX_CHECKLIST_BYTES:
        raise ChecklistError(name, "", f"the file is larger than {MAX_CHECKLIST_BYTES // 1_000_000} MB; a checklist "
                                       f"is a config file, split it or remove generated content")
    if _CLoader is not None:
        try:
            _refuse_deep_nesting(text, name)
            return _compose(_CLoader(text), name)
        except yaml.YAMLError:
            pass  # invalid YAML: the pure-Python loader below says what is wrong in PyYAML's fuller words
    return _compose(_BoundedLoader(text, name), name)


def _compose(loader: Any, name: str) -> Any:
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        added = _expanded_size(node, {}) - _distinct_size(node, set())
        if added > MAX_ALIAS_EXPANSION:
            raise ChecklistError(name, "", f"YAML aliases (*name) expand to more than {MAX_ALIAS_EXPANSION} "
                                           f"extra values; write the values out or use fewer nested aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_checklist(path: str | Path) -> Checklist:
    path = Path(path)
    name = str(path)
    try:
        if path.exists() and not path.is_file():  # a FIFO or device would block the read forever
            raise ChecklistError(name, "", "not a regular file; pass the path of a checklist YAML file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CHECKLIST_BYTES + 1)
        if len(raw) > MAX_CHECKLIST_BYTES:
            raise ChecklistError(name, "", f"the file is larger than {MAX_CHECKLIST_BYTES // 1_000_000} MB; a "
                                           f"checklist is a config file, split it or remove generated content")
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChecklistError(name, "", f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except FileNotFoundError:
        raise ChecklistError(name, "", "file not found; pass --checklist PATH or set GOLIVE_CHECKLIST") from None
    except OSError as exc:
        raise ChecklistError(name, "", f"cannot read: {exc.strerror}") from None
    return parse_checklist(text, name)


def parse_checklist(text: str, name: str = "<checklist>") -> Checklist:
    try:
        data = _safe_yaml(text, name)
    except RecursionError:
        raise ChecklistError(name, "", f"nested too deeply; keep nesting under {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChecklistError(name, where, f"invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ChecklistError(name, "", "the top level must be a mapping with `name:` and `phases:`")
    try:
        checklist = Checklist.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ChecklistError(name, _loc(err["loc"]), err["msg"] + more) from None
    checklist.source_path = name
    _validate_checks(checklist, data, name)
    return checklist


def _validate_checks(checklist: Checklist, raw: dict[str, Any], name: str) -> None:
    seen: dict[str, str] = {}
    kinds = known_kinds()
    phase_ids = [p.id for p in checklist.phases]
    for pi, phase in enumerate(checklist.phases):
        if phase.id in phase_ids[:pi]:
            raise ChecklistError(name, f"phases[{pi}].id", f"phase id {phase.id!r} is used twice")
        for ci, check in enumerate(phase.checks):
            check.phase = phase.id
            key = f"phases[{pi}].checks[{ci}]"
            if check.id in seen:
                raise ChecklistError(name, f"{key}.id", f"check id {check.id!r} is already used at {seen[check.id]}")
            if check.id in phase_ids or check.id == "all":
                raise ChecklistError(name, f"{key}.id", f"check id {check.id!r} clashes with a phase name")
            seen[check.id] = key
            kind = get_kind(check.kind)
            if kind is None:
                hint = difflib.get_close_matches(check.kind, kinds, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ChecklistError(
                    name, f"{key}.kind",
                    f"unknown check kind {check.kind!r}{suggestion}; known kinds: {', '.join(kinds)}",
                )
            raw_params = _value_at(raw, ("phases", pi, "checks", ci, "params")) or {}
            _validate_params_template(kind.params, raw_params, name, f"{key}.params")
    for pi, phase in enumerate(checklist.phases):
        for ci, check in enumerate(phase.checks):
            for ni, dep in enumerate(check.needs):
                if dep not in seen:
                    raise ChecklistError(
                        name, f"phases[{pi}].checks[{ci}].needs[{ni}]", f"needs unknown check {dep!r}"
                    )
        for ci, check in enumerate(phase.checks):
            for ai, dep in enumerate(check.after):
                if dep not in seen:
                    raise ChecklistError(
                        name, f"phases[{pi}].checks[{ci}].after[{ai}]", f"runs after unknown check {dep!r}"
                    )
    _reject_cycles(checklist, name, seen)
    if checklist.rollout:
        ids = {c.id for c in checklist.all_checks()}
        for ri, rphase in enumerate(checklist.rollout.phases):
            for qi, req in enumerate(rphase.requires_checks):
                if req not in ids:
                    raise ChecklistError(name, f"rollout.phases[{ri}].requires_checks[{qi}]",
                                         f"requires unknown check {req!r}")


def _validate_params_template(model: type[BaseModel], raw: Any, name: str, key: str) -> None:
    """Validate params before interpolation: a `${VAR}` value may stand where any type is expected."""
    if not isinstance(raw, dict):
        raise ChecklistError(name, key, "params must be a mapping")
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] != "missing" and has_reference(_value_at(raw, err["loc"])):
                continue  # checked again once the variable is known
            if err["type"] != "missing" and any(has_reference(_value_at(raw, err["loc"][:i]))
                                                for i in range(1, len(err["loc"]))):
                continue
            raise ChecklistError(name, f"{key}.{_loc(err['loc'])}" if err["loc"] else key, err["msg"]) from None


def _reject_cycles(checklist: Checklist, name: str, where: dict[str, str]) -> None:
    graph = {c.id: [*c.needs, *c.after] for c in checklist.all_checks()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = " -> ".join([*trail[trail.index(node):], node])
            raise ChecklistError(name, f"{where[node]}.needs", f"dependency cycle: {cycle}")
        state[node] = 1
        for dep in graph[node]:
            visit(dep, [*trail, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def select_checks(checklist: Checklist, selector: str) -> list[CheckSpec]:
    """Checks named by a phase id, a check id, a glob (`smoke.*`) or `all`, plus what they need."""
    import fnmatch

    if selector == "all":
        chosen = checklist.all_checks()
    elif (phase := checklist.phase(selector)) is not None:
        chosen = list(phase.checks)
    elif (check := checklist.check(selector)) is not None:
        chosen = [check]
    elif any(ch in selector for ch in "*?["):
        chosen = [c for c in checklist.all_checks() if fnmatch.fnmatchcase(c.id, selector)]
    else:
        chosen = []
    if not chosen:
        names = ["all"] + [p.id for p in checklist.phases] + [c.id for c in checklist.all_checks()]
        hint = difflib.get_close_matches(selector, names, n=3)
        suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
        raise LookupError(
            f"{selector!r} is neither a phase nor a check in {checklist.name}.{suggestion} "
            f"Phases: {', '.join(p.id for p in checklist.phases)}; `golive checks` lists every check."
        )
    by_id = {c.id: c for c in checklist.all_checks()}
    result: dict[str, CheckSpec] = {}

    def add(check: CheckSpec) -> None:
        for dep in check.needs:
            if dep not in result:
                add(by_id[dep])
        result.setdefault(check.id, check)

    for check in chosen:
        add(check)
    return list(result.values())
