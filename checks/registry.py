"""The registry of check kinds and the context a check runs in.

A kind is an async function taking (context, params) and returning an Outcome; its params are a
pydantic model, so a checklist is validated against every kind it uses before anything runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from checks.result import Outcome
from checks.spec import Checklist, CheckSpec
from checks.timing import Timer


class Params(BaseModel):
    """Base for every kind's params: unknown keys are an error, so typos are caught on load."""

    model_config = ConfigDict(extra="forbid")


FlagReader = Callable[[list[str]], Awaitable[dict[str, str | None]]]


@dataclass
class CheckContext:
    """Everything a check may use: the target's settings, its base URL, earlier checks' outputs."""

    checklist: Checklist
    env: Mapping[str, str]
    check: CheckSpec
    workdir: Path
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    rollout_phase: str | None = None
    flag_reader: FlagReader | None = None
    target_url: str = ""
    run_id: str = ""  # sent to the target as X-Golive-Run (see checks.kinds.http.RUN_HEADER)
    timer: Timer | None = None  # takes latency timings outside the event loop (checks.timing); None: in the loop

    @property
    def base_url(self) -> str:
        return (self.target_url or self.checklist.target.base_url).rstrip("/")

    def url(self, path_or_url: str) -> str:
        if "://" in path_or_url:
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.workdir / p

    def output_of(self, check_id: str) -> dict[str, Any]:
        if check_id not in self.outputs:
            raise LookupError(f"check {check_id} has not produced output in this run; add it to `needs:`")
        return self.outputs[check_id]


P = TypeVar("P", bound=Params)
KindFn = Callable[[CheckContext, Any], Awaitable[Outcome]]


ParamsTest = Callable[[Mapping[str, Any]], bool]
WritesText = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Kind:
    """`mutates(params)`: the check changes the target by default; `latency(params)`: it is judged on
    a latency ceiling, so the runner measures it while golive itself is quiet; `writes(params)`: what it
    writes on the target, in words (`golive checks`, its evidence and the verdict say so)."""

    name: str
    params: type[Params]
    run: KindFn
    doc: str
    mutates: ParamsTest | None = None
    latency: ParamsTest | None = None
    writes: WritesText | None = None

    def changes_target(self, spec: CheckSpec) -> bool:
        if spec.mutates is not None:
            return spec.mutates
        return bool(self.mutates and self.mutates(spec.params))

    def judges_latency(self, spec: CheckSpec) -> bool:
        return bool(self.latency and self.latency(spec.params))

    def what_it_writes(self, spec: CheckSpec) -> str | None:
        """What this check writes on the target (None: it only reads). `mutates: false` says it writes
        nothing; `mutates: true` on a kind that cannot say more is declared as such."""
        if spec.mutates is False:
            return None
        text = self.writes(spec.params) if self.writes else None
        if text:
            return text
        if self.changes_target(spec):
            return "changes the target (declared `mutates: true`)"
        return None


KINDS: dict[str, Kind] = {}


def check_kind(name: str, params: type[P], *, mutates: ParamsTest | None = None, latency: ParamsTest | None = None,
               writes: WritesText | None = None) -> Callable[[Callable[[CheckContext, P], Awaitable[Outcome]]], KindFn]:
    """Register an async check function under a kind name."""

    def register(fn: Callable[[CheckContext, P], Awaitable[Outcome]]) -> KindFn:
        if name in KINDS:
            raise ValueError(f"check kind {name!r} registered twice")
        KINDS[name] = Kind(name=name, params=params, run=fn, doc=(fn.__doc__ or "").strip().splitlines()[0]
                           if fn.__doc__ else "", mutates=mutates, latency=latency, writes=writes)
        return fn

    return register


def get_kind(name: str) -> Kind | None:
    """The kind registered as `name`, importing its built-in module on first use."""
    if name not in KINDS:
        from checks.kinds import import_kind

        import_kind(name)
    return KINDS.get(name)


def known_kinds() -> list[str]:
    """Every kind name, built-in or registered, without importing the built-in modules."""
    from checks.kinds import BUILTIN_KINDS

    return sorted(set(BUILTIN_KINDS) | set(KINDS))


def load_builtin_kinds() -> None:
    """Import every built-in kind (for listings that need each kind's description)."""
    from checks.kinds import import_all

    import_all()
