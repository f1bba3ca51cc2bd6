"""`flags`: the feature flags the target runs with equal the current rollout phase's plan."""

from __future__ import annotations

from pydantic import Field

from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


def normalise_flag(value: object) -> str:
    """Compare flag values loosely: booleans in any common spelling, other strings as they are."""
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE:
        return "true"
    if text in FALSE:
        return "false"
    return str(value).strip()


class FlagsParams(Params):
    phase: str | None = Field(None, description="rollout phase to compare with; default: the current one")
    flags: dict[str, bool | str] | None = Field(None, description="explicit expectations instead of the plan")


@check_kind("flags", FlagsParams)
async def check_flags(ctx: CheckContext, p: FlagsParams) -> Outcome:
    """Compare actual flag values (from the flag provider, else the target's settings) with the plan."""
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
    if ctx.flag_reader is not None:
        actual = await ctx.flag_reader(names)
        source = "flag provider"
    else:
        actual = {name: ctx.env.get(name) for name in names}
        source = "target settings"
    mismatched = {name: (normalise_flag(expected[name]), normalise_flag(actual.get(name)))
                  for name in names if normalise_flag(expected[name]) != normalise_flag(actual.get(name))}
    evidence = {"phase": phase_id, "source": source,
                "flags": {n: normalise_flag(actual.get(n)) for n in names}}
    if mismatched:
        detail = "; ".join(f"{n} is {got} (plan: {want})" for n, (want, got) in mismatched.items())
        return Outcome.failed(f"flags differ from {phase_id}: {detail}", **evidence)
    return Outcome.passed(f"{len(names)} flag(s) match {phase_id}", **evidence)
