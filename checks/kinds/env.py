"""`env`: one of the target's settings, checked against the plan (set, value, shape, URL scheme/query)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from checks.masking import MASK, redact_url
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome
from checks.target_env import real_name


class EnvParams(Params):
    var: str = Field(description="variable name, e.g. DATABASE_URL or HUNTER_DATABASE_URL")
    required: bool = True
    default: str | None = Field(None, description="value assumed when unset (the service's own default)")
    equals: str | None = None
    one_of: list[str] | None = None
    not_one_of: list[str] | None = None
    case_sensitive: bool = False
    pattern: str | None = Field(None, description="regular expression the whole value must match")
    integer: bool = False
    min: int | None = None
    max: int | None = None
    url_schemes: list[str] | None = None
    url_query: dict[str, str] | None = Field(None, description="query parameters the URL must carry")
    url_query_when: dict[str, str] | None = Field(None, description="only require url_query when these vars match")
    secret: bool = Field(False, description="never show the value")


def _norm(value: str, params: EnvParams) -> str:
    return value if params.case_sensitive else value.lower()


def _show(value: str, params: EnvParams) -> str:
    if params.secret:
        return redact_url(value) if "://" in value and not params.pattern else MASK
    return redact_url(value) if "://" in value else value


@check_kind("env", EnvParams)
async def check_env(ctx: CheckContext, p: EnvParams) -> Outcome:
    """A target setting has the planned value and shape."""
    name = real_name(ctx.checklist.settings, ctx.env, p.var)  # the service's own name (HUNTER_…)
    raw = ctx.env.get(p.var)
    value = raw if raw not in (None, "") else p.default
    if value in (None, ""):
        if p.required:
            return Outcome.failed(f"{name} is not set", var=name)
        return Outcome.passed(f"{name} is not set (optional)", var=name)
    assert value is not None
    shown = _show(value, p)
    source = "default" if raw in (None, "") else "set"
    evidence: dict[str, object] = {"var": name, "value": shown, "source": source}
    problems: list[str] = []
    if p.equals is not None and _norm(value, p) != _norm(p.equals, p):
        problems.append(f"expected {p.equals}, got {shown}")
    if p.one_of is not None and _norm(value, p) not in {_norm(v, p) for v in p.one_of}:
        problems.append(f"expected one of {', '.join(p.one_of)}, got {shown}")
    if p.not_one_of is not None and _norm(value, p) in {_norm(v, p) for v in p.not_one_of}:
        problems.append(f"must not be {shown}")
    if p.pattern is not None and not re.fullmatch(p.pattern, value):
        problems.append("does not have the expected shape" + ("" if p.secret else f" ({p.pattern})"))
    if p.integer or p.min is not None or p.max is not None:
        try:
            number = int(value)
        except ValueError:
            problems.append(f"expected a whole number, got {shown}")
        else:
            if p.min is not None and number < p.min:
                problems.append(f"{number} is below the minimum {p.min}")
            if p.max is not None and number > p.max:
                problems.append(f"{number} is above the maximum {p.max}")
    if p.url_schemes is not None or p.url_query is not None:
        problems += _url_problems(value, p, ctx)
    if problems:
        return Outcome.failed(f"{name}: " + "; ".join(problems), **evidence)
    detail = "" if p.secret else f" = {shown}"
    suffix = " (default)" if source == "default" else ""
    return Outcome.passed(f"{name}{detail}{suffix}" if not p.secret else f"{name} is set and well-formed",
                          **evidence)


def _url_problems(value: str, p: EnvParams, ctx: CheckContext) -> list[str]:
    try:
        parts = urlsplit(value)
    except ValueError:
        return ["is not a valid URL"]
    problems = []
    if p.url_schemes is not None and parts.scheme not in p.url_schemes:
        problems.append(f"scheme {parts.scheme or '(none)'} is not one of {', '.join(p.url_schemes)}")
    applies = all(ctx.env.get(k, "") == v for k, v in (p.url_query_when or {}).items())
    if p.url_query and applies:
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        for key, expected in p.url_query.items():
            if query.get(key) != expected:
                got = query.get(key, "missing")
                when = ", ".join(f"{k}={v}" for k, v in (p.url_query_when or {}).items())
                problems.append(f"{key}={expected} required{' when ' + when if when else ''} (got {got})")
    return problems
