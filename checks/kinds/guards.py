"""Safety guards: production must not point at a local database, and destructive resets need FORCE_PRODUCTION.

`guard.localhost` only reads a setting. `guard.force_production` runs the target's destructive script,
always inside `checks.sandbox` (state-changing tools recorded, connections unroutable, no real waits).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field

from checks.kinds.command import resolved_command
from checks.masking import mask, redact_url
from checks.process import run_process, to_argv
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.sandbox import SENTINEL_HOST, Sandbox, describe_call, sanitize_connections

LOCAL_HOSTS = ["localhost", "127.0.0.1", "::1", "0.0.0.0", ""]


class LocalhostParams(Params):
    url: str = Field(description="the URL that must not be local, usually ${DATABASE_URL}")
    local_hosts: list[str] = Field(default_factory=lambda: list(LOCAL_HOSTS))


@check_kind("guard.localhost", LocalhostParams)
async def check_not_localhost(ctx: CheckContext, p: LocalhostParams) -> Outcome:
    """A production deployment whose database URL points at this machine is a mistake."""
    shown = redact_url(p.url)
    try:
        host = (urlsplit(p.url).hostname or "").lower()
    except ValueError:
        return Outcome.failed(f"not a valid URL: {shown}")
    if host in p.local_hosts or host.startswith("127."):
        return Outcome.failed(f"points at a local host ({host or 'socket'}): {shown}", url=shown, host=host)
    return Outcome.passed(f"database host is {host}", url=shown, host=host)


class ForceProductionParams(Params):
    command: str | list[str] = Field(description="the destructive script, e.g. scripts/reset_db_with_alembic.sh")
    cwd: str | None = None
    flag_var: str | list[str] = Field(
        "FORCE_PRODUCTION", description="the variable(s) the script needs to go ahead; removed from what it sees")
    flag_value: str = "yes"
    environment_var: str | None = Field(None, description="default: the checklist's `production.env`")
    environment_value: str = "production"
    present: dict[str, str] = Field(
        default_factory=dict,
        description="the production-like settings the script guards on, e.g. "
                    "{DATABASE_URL: postgresql://app@prod-db.invalid/production}; hosts are made unroutable")
    answer: str | None = Field("yes", description="typed to every prompt (an interactive 'are you sure' is no guard)")
    shadow: list[str] = Field(default_factory=list, description="more tools to intercept besides the built-in list")
    refusal_output: str | None = Field(None, description="regex the refusal must print (tells it from a crash)")


@check_kind("guard.force_production", ForceProductionParams)
async def check_force_production(ctx: CheckContext, p: ForceProductionParams) -> Outcome:
    """Run the destructive script as production without the force flag, in a sandbox: it must refuse.

    May touch: nothing it reaches through the shadowed tools or a network connection (see
    checks.sandbox); files the script itself writes in its cwd are not confined.
    """
    flags = [p.flag_var] if isinstance(p.flag_var, str) else list(p.flag_var)
    prefix = ctx.checklist.settings.prefix  # a prefixed service reads HUNTER_ENVIRONMENT, HUNTER_FORCE_…
    flags += [prefix + f for f in flags if prefix and not f.startswith(prefix)]
    argv = to_argv(resolved_command(ctx, p.command))
    shown = mask(shlex.join(argv))
    forced = [f for f in flags if f in p.present]
    if forced:
        return Outcome(status=Status.ERROR, summary=f"params.present sets {', '.join(forced)}, the flag the script "
                       "must be run without; remove it from present")
    if not argv:
        return Outcome(status=Status.ERROR, summary="params.command is empty")
    production = production_settings(ctx, p)
    presented = {k: v for k, v in ctx.env.items() if k not in flags}
    presented = with_production_hosts(presented, ctx.checklist.production.hosts)
    for name, value in production.items():
        presented[name] = value
        if prefix and not name.startswith(prefix):
            presented[prefix + name] = value
    presented.update(p.present)
    cwd = ctx.path(p.cwd) if p.cwd else ctx.workdir
    flag_text = " / ".join(f"{f}={p.flag_value}" for f in flags)
    box = Sandbox.create(tuple(p.shadow))
    try:
        if box.shadows(argv[0]):
            return Outcome(status=Status.ERROR, summary=f"`{shown}` starts with {Path(argv[0]).name}, which the "
                           "sandbox intercepts; run the script itself (e.g. [bash, scripts/reset.sh])")
        env = box.environment(presented)
        stdin = ((p.answer + "\n") * 20).encode() if p.answer is not None else None
        try:
            result = await run_process(argv, env=env, cwd=cwd, stdin=stdin, sandbox=box.root)
        except OSError as exc:
            return Outcome.failed(f"cannot run `{shown}`: {exc.strerror or exc}", command=shown)
        calls = [mask(describe_call(c)) for c in box.calls()]
        slept = box.slept_seconds()
        replaced = list(box.replaced)
    finally:
        box.remove()
    evidence = {
        "command": shown, "exit_code": result.returncode, "output_tail": mask(result.tail(6)),
        "intercepted_calls": calls[:50], "sleep_skipped_s": slept,
        "presented": mask_env({**production, **sanitize_connections(p.present)[0]}),
        "connection_settings_made_unroutable": replaced,
    }
    said = mask(result.cause())
    if calls:
        listed = "; ".join(calls[:3]) + (f" (+{len(calls) - 3} more)" if len(calls) > 3 else "")
        return Outcome.failed(
            f"`{shown}` did not refuse production without {flag_text}: the guard is missing. "
            f"It would have run {len(calls)} state-changing call(s): {listed}", **evidence)
    if connected := tried_to_connect(result.stdout + "\n" + result.stderr):
        return Outcome.failed(
            f"`{shown}` did not refuse production without {flag_text}: the guard is missing. It tried to "
            f"connect (the sandbox lets no connection through): {mask(connected)}", **evidence)
    if result.returncode == 0:
        return Outcome.failed(
            f"`{shown}` ran to completion (exit 0) in production without {flag_text}: the guard is missing",
            **evidence)
    if result.returncode < 0 or result.returncode in (126, 127):
        return Outcome(status=Status.ERROR, evidence=evidence, summary=(
            f"could not judge the guard: `{shown}` failed to run (exit {result.returncode}): {said}"))
    if p.refusal_output and not re.search(p.refusal_output, result.stdout + "\n" + result.stderr):
        return Outcome.failed(f"`{shown}` exited {result.returncode} without printing /{p.refusal_output}/: "
                              f"a crash, not a refusal? It said: {said}", **evidence)
    if any(ctx.env.get(f, "").lower() == p.flag_value.lower() for f in flags):
        return Outcome.warned(f"the script refuses without the flag, but {flag_text} is set "
                              "permanently in the target's settings; unset it", **evidence)
    return Outcome.passed(
        f"refused without {flag_text} (exit {result.returncode}) before calling any state-changing tool: {said}",
        **evidence)


_CONNECT_ERROR = re.compile(
    r"could not translate host name|Name or service not known|failed to resolve|getaddrinfo|"
    r"nodename nor servname|Temporary failure in name resolution|No address associated|"
    r"could not resolve|resolve host|unknown host|"
    r"Network is unreachable|network unreachable|" + re.escape(SENTINEL_HOST), re.IGNORECASE)  # no network namespace


def tried_to_connect(output: str) -> str:
    """The first output line showing a connection attempt that the sandbox stopped (an `.invalid` host, or
    no network at all: a hard-coded 127.0.0.1).

    Why: such a script failed because it could not reach the database, not because it refused; reading
    that exit code as a refusal is exactly the false "refused" this check must never give.
    """
    for line in output.splitlines():
        if _CONNECT_ERROR.search(line) or (".invalid" in line and re.search(r"connect", line, re.IGNORECASE)):
            return line.strip()
    return ""


def production_settings(ctx: CheckContext, p: ForceProductionParams) -> dict[str, str]:
    """The settings that make the script believe it runs in production: the checklist's own definition
    (`production.env`, default ENVIRONMENT=production), or this check's `environment_var` when given."""
    if p.environment_var:
        return {p.environment_var: p.environment_value}
    return dict(ctx.checklist.production.env)


def with_production_hosts(env: dict[str, str], hosts: list[str]) -> dict[str, str]:
    """Connection settings pointed at the checklist's first production host (`production.hosts`), so a
    script that recognises production by its database host sees production; the sandbox then makes that
    host unroutable (`prod-db.internal` -> `prod-db.internal.invalid`)."""
    host = next((h.replace("*", "db") for h in hosts if h.strip()), "")
    if not host:
        return env
    out = {}
    for name, value in env.items():
        new = _URL_HOST.sub(lambda m: f"{m['scheme']}://{m['user'] or ''}{host}{m['port'] or ''}", value) \
            if "://" in value and not value.lower().startswith(("http://", "https://")) else value
        out[name] = new
    return out


_URL_HOST = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<user>[^@/\s?#]*@)?"
                       r"(?P<host>\[[^\]]*\]|[^:/\s?#,]+)(?P<port>:\d+)?")


def mask_env(env: dict[str, str]) -> dict[str, str]:
    return {k: mask(v) for k, v in env.items()}
