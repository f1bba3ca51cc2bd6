"""Safety guards: production must not point at a local database, and destructive resets need FORCE_PRODUCTION."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

from checks.masking import mask, redact_url
from checks.process import run_process
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome

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
    flag_var: str = "FORCE_PRODUCTION"
    flag_value: str = "yes"
    environment_var: str = "ENVIRONMENT"
    environment_value: str = "production"


@check_kind("guard.force_production", ForceProductionParams)
async def check_force_production(ctx: CheckContext, p: ForceProductionParams) -> Outcome:
    """Run the destructive script as production *without* the force flag: it must refuse."""
    env = {k: v for k, v in ctx.env.items() if k != p.flag_var}
    env[p.environment_var] = p.environment_value
    shown = mask(p.command if isinstance(p.command, str) else " ".join(p.command))
    cwd = ctx.path(p.cwd) if p.cwd else ctx.workdir
    try:
        result = await run_process(p.command, env=env, cwd=cwd)
    except OSError as exc:
        return Outcome.failed(f"cannot run `{shown}`: {exc.strerror or exc}", command=shown)
    evidence = {"command": shown, "exit_code": result.returncode, "output_tail": mask(result.tail(6))}
    persisted = ctx.env.get(p.flag_var, "").lower() == p.flag_value.lower()
    if result.returncode == 0:
        return Outcome.failed(
            f"`{shown}` ran in production without {p.flag_var}={p.flag_value}: the guard is missing", **evidence)
    if persisted:
        return Outcome.warned(f"the script refuses without the flag, but {p.flag_var}={p.flag_value} is set "
                              "permanently in the target's settings; unset it", **evidence)
    return Outcome.passed(f"refused without {p.flag_var}={p.flag_value} (exit {result.returncode})", **evidence)
