"""`flags`: the feature flags the target runs with equal the current rollout phase's plan.

Two sources of evidence: the flag source (the rollout's provider, else the target's settings) and,
optionally, an `effective` probe that asks the running service what it actually uses. A flag file
that was written but never loaded by the service is exactly what the probe catches. Missing data is
never a pass: an unreadable source is an error, an unset flag a warning.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from checks.bounded import MIB, CapExceeded, request_capped
from checks.interpolate import MissingVariable, interpolate
from checks.jsonpath import MISSING, get_path
from checks.kinds.http import same_origin
from checks.masking import mask
from checks.process import run_process
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.spec import FlagSetting, FlagValue

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


def normalise_flag(value: object) -> str:
    """Compare flag values loosely: booleans in any common spelling, other strings as they are. A planned
    percentage (`{on: true, rollout: 25}`) reads `25%`; on for 100 % is simply `true`."""
    if isinstance(value, FlagSetting):
        if not value.on:
            return "false"
        return "true" if value.rollout is None or value.rollout >= 100 else f"{value.rollout}%"
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE:
        return "true"
    if text in FALSE:
        return "false"
    return str(value).strip()


def shown(value: object) -> str:
    """A flag value as a person reads it; unset stays visibly unset."""
    return "unset" if value is None else normalise_flag(value)


class EffectiveError(RuntimeError):
    """The effective probe gave no usable answer; the message says why (masked)."""


class EffectiveProbe(Params):
    """Where the running service says which flag values it uses: an HTTP JSON endpoint or a command.

    A command may print JSON or KEY=VALUE lines. `path` is where the flags object sits in the JSON
    (empty: the top level); `names` maps a plan flag to its key there when the service names it
    differently (`HUNTER_D365_ENABLED: integrations.d365`)."""

    url: str | None = Field(None, description="path on the target (/healthz/flags) or an absolute URL")
    command: str | list[str] | None = Field(None, description="prints JSON or KEY=VALUE lines")
    path: str = ""
    names: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0)
    max_bytes: int = Field(MIB, gt=0, description="read at most this much of the answer or the command's output")

    @model_validator(mode="after")
    def _one_source(self) -> EffectiveProbe:
        if (self.url is None) == (self.command is None):
            raise ValueError("effective needs exactly one of url or command")
        return self

    def describe(self, base_url: str = "") -> str:
        if self.url is not None:
            return f"GET {self.url}"
        command = self.command if isinstance(self.command, str) else " ".join(self.command or [])
        return f"command {command}"


def effective_probe(raw: Mapping[str, Any] | None, env: Mapping[str, str]) -> EffectiveProbe | None:
    """The probe from checklist data (`${VAR}`s filled from the target's settings); ValueError when bad."""
    if not raw:
        return None
    try:
        return EffectiveProbe.model_validate(interpolate(dict(raw), env))
    except MissingVariable as exc:
        raise ValueError(f"effective: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"effective{'.' + where if where else ''}: {err['msg']}") from None


def _parse_output(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pairs: dict[str, str] = {}
        for line in text.splitlines():
            key, eq, value = line.strip().removeprefix("export ").partition("=")
            if eq and key.strip():
                pairs[key.strip()] = value.strip().strip("'\"")
        return pairs


async def read_effective(probe: EffectiveProbe, names: Sequence[str], *, base_url: str, workdir: Path,
                         env: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                         verify_tls: bool = True) -> dict[str, str | None]:
    """What the running service reports for each flag (None when it does not mention one)."""
    if probe.url is not None:
        url = probe.url if "://" in probe.url else base_url.rstrip("/") + "/" + probe.url.lstrip("/")
        home = dict(headers or {}) if same_origin(url, base_url) else {}  # the target's headers stay at home
        import httpx

        try:
            async with httpx.AsyncClient(timeout=probe.timeout, verify=verify_tls, trust_env=False) as client:
                response, body = await request_capped(
                    client, "GET", url, headers={**home, **probe.headers}, limit=probe.max_bytes,
                    setting="effective.max_bytes", total_timeout=probe.timeout)
        except CapExceeded as exc:
            raise EffectiveError(f"effective probe GET {probe.url}: {exc}") from None
        except TimeoutError:
            raise EffectiveError(f"effective probe GET {probe.url} timed out after {probe.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise EffectiveError(f"effective probe GET {probe.url} failed: {mask(str(exc)) or type(exc).__name__}") \
                from None
        if response.status_code != 200:
            raise EffectiveError(f"effective probe GET {probe.url} answered {response.status_code}")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise EffectiveError(f"effective probe GET {probe.url} did not answer JSON") from None
    else:
        assert probe.command is not None
        try:
            async with asyncio.timeout(probe.timeout):
                done = await run_process(probe.command, env=dict(env or {}), cwd=workdir,
                                         max_output_bytes=probe.max_bytes, cap_setting="effective.max_bytes")
        except CapExceeded as exc:
            raise EffectiveError(f"effective probe {probe.describe()}: {exc}") from None
        except TimeoutError:
            raise EffectiveError(f"effective probe {probe.describe()} timed out after {probe.timeout:g}s") from None
        except OSError as exc:
            raise EffectiveError(f"effective probe {probe.describe()} could not start: {exc.strerror}") from None
        if done.returncode != 0:
            raise EffectiveError(f"effective probe {probe.describe()} exited {done.returncode}: "
                                 f"{mask(done.tail(1))}")
        document = _parse_output(done.stdout)
    flags = get_path(document, probe.path) if probe.path else document
    if not isinstance(flags, Mapping):
        raise EffectiveError(f"effective probe {probe.describe()}: no flags object at "
                             f"{probe.path or 'the top level'}")
    result: dict[str, str | None] = {}
    for name in names:
        value = get_path(flags, probe.names[name]) if name in probe.names else flags.get(name, MISSING)
        result[name] = None if value is MISSING or value is None else (
            ("true" if value else "false") if isinstance(value, bool) else str(value))
    return result


class FlagsParams(Params):
    phase: str | None = Field(None, description="rollout phase to compare with; default: the current one")
    flags: dict[str, FlagValue] | None = Field(None, description="explicit expectations instead of the plan")
    effective: dict[str, Any] | None = Field(
        None, description="probe of what the running service uses: {url, path} or {command}; "
                          "default: the checklist's rollout.effective")


@check_kind("flags", FlagsParams)
async def check_flags(ctx: CheckContext, p: FlagsParams) -> Outcome:
    """Compare the flag source and (optionally) the running service's effective flags with the plan."""
    expected = p.flags
    phase_id = p.phase or ctx.rollout_phase
    if expected is None:
        rollout = ctx.checklist.rollout
        if rollout is None or not rollout.phases:
            return Outcome.failed("no `rollout.phases` in the checklist and no `flags` param: nothing to compare")
        phase = next((ph for ph in rollout.phases if ph.id == phase_id), None) if phase_id else rollout.phases[0]
        if phase is None:
            return Outcome.failed(f"rollout phase {phase_id!r} is not in the checklist")
        phase_id, expected = phase.id, phase.flags
    names = list(expected)
    raw_probe = p.effective if p.effective is not None else (
        ctx.checklist.rollout.effective if ctx.checklist.rollout else None)
    try:
        probe = effective_probe(raw_probe, ctx.env)
    except ValueError as exc:
        return Outcome(status=Status.ERROR, summary=f"bad {exc}")
    if ctx.flag_reader is not None:
        source = "flag provider"
        try:
            actual = await ctx.flag_reader(names)
        except Exception as exc:  # the provider's message says what is missing (a file, a key, a service)
            return Outcome(status=Status.ERROR, summary=f"cannot read the flags: {mask(str(exc))}",
                           evidence={"phase": phase_id, "source": source, "error": mask(str(exc))})
    else:
        actual = {name: ctx.env.get(name) for name in names}
        source = "target settings"
    evidence: dict[str, Any] = {"phase": phase_id, "source": source,
                                "flags": {n: shown(actual.get(n)) for n in names},
                                "plan": {n: normalise_flag(v) for n, v in expected.items()}}
    mismatched = {name: (normalise_flag(expected[name]), shown(actual.get(name)))
                  for name in names if normalise_flag(expected[name]) != normalise_flag(actual.get(name))}
    if mismatched:
        detail = "; ".join(f"{n} is {got} (plan: {want})" for n, (want, got) in mismatched.items())
        return Outcome.failed(f"flags differ from {phase_id}: {detail}", **evidence)
    if probe is not None:
        try:
            running = await read_effective(probe, names, base_url=ctx.base_url, workdir=ctx.workdir,
                                           env=ctx.env, headers=ctx.checklist.target.headers,
                                           verify_tls=ctx.checklist.target.verify_tls)
        except EffectiveError as exc:
            return Outcome(status=Status.ERROR, summary=mask(str(exc)), evidence=evidence)
        evidence["effective"] = {n: shown(running.get(n)) for n in names}
        evidence["effective_probe"] = probe.describe()
        differ = [n for n in names if running.get(n) is None
                  or normalise_flag(running.get(n)) != normalise_flag(expected[n])]
        if differ:
            detail = "; ".join(f"{n}: the running service uses {shown(running.get(n))}, the plan says "
                               f"{normalise_flag(expected[n])} ({source}: {shown(actual.get(n))})" for n in differ)
            return Outcome.failed(f"running service differs from {phase_id}: {detail}", **evidence)
    unset = [n for n in names if actual.get(n) is None]
    if unset and probe is None:
        return Outcome.warned(
            f"{len(unset)} flag(s) not set in the {source}: {', '.join(unset)} (plan: "
            f"{', '.join(normalise_flag(expected[n]) for n in unset)}); the service's default decides — set them "
            "explicitly or add an `effective` probe", **evidence)
    confirmed = " and in the running service" if probe is not None else ""
    return Outcome.passed(f"{len(names)} flag(s) match {phase_id}{confirmed}", **evidence)
