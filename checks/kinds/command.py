"""`command`: any shell step of the runbook (a deploy script's --dry-run, a smoke script), with a timeout.

May touch: whatever the command does. It runs as written, with the target's settings as its
environment (`pass_target_env`), so a checklist should only name commands that are safe to run at any
time (`--dry-run`, `--check`). With `sandbox: true` it may touch nothing through the shadowed tools or the
network (a dry run that would act fails, listing the calls); a script expected to refuse belongs in
`guard.force_production`, which always runs it in that sandbox. `${VAR}` values never become code or
extra arguments (see `checks.argv`): with `shell: true` they reach the shell as environment variables.
"""

from __future__ import annotations

import fnmatch
import re
import shlex

from pydantic import Field

from checks.argv import ShellCommand, ShellTemplateError, command_argv, shell_command, shell_words
from checks.bounded import DEFAULT_MAX_OUTPUT_BYTES, CapExceeded, cap_description
from checks.masking import mask
from checks.process import run_process
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.sandbox import Sandbox, describe_call


class CommandParams(Params):
    command: str | list[str] = Field(description="argv list, or a string split like a shell would")
    shell: bool = Field(False, description="run through /bin/sh (pipes, redirections)")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pass_target_env: bool = Field(True, description="give the command the target's settings as its environment")
    expect_exit: list[int] = Field(default_factory=lambda: [0])
    expect_output: str | None = Field(None, description="regex that must appear in stdout/stderr")
    forbid_output: str | None = Field(None, description="regex that must not appear")
    sandbox: bool = Field(False, description=(
        "run it where it cannot act (checks.sandbox): state-changing tools are recorded, connections "
        "unroutable; any recorded call fails the check unless allow_calls matches it"))
    allow_calls: list[str] = Field(default_factory=list, description=(
        'with sandbox: glob patterns of recorded calls that are fine, e.g. "kubectl diff *"'))
    max_output_bytes: int = Field(DEFAULT_MAX_OUTPUT_BYTES, gt=0, description=cap_description(
        "stdout + stderr (the command is killed past it)", DEFAULT_MAX_OUTPUT_BYTES))


def resolved_command(ctx: CheckContext, command: str | list[str]) -> str | list[str]:
    """What to run, built from the checklist's own template so a `${VAR}` value stays data.

    The runner has already interpolated `command` as one string; for a string template we start again
    from the template (split first, then interpolate each word).
    """
    raw = ctx.check.params.get("command")
    if isinstance(raw, str):
        return command_argv(raw, ctx.env)
    return command


def resolved_shell_command(ctx: CheckContext, command: str | list[str]) -> ShellCommand:
    """The `/bin/sh -c` text from the checklist's template, each `${VAR}` a reference to a variable of the
    child's environment (checks.argv.shell_command): no value is ever parsed as shell code."""
    raw = ctx.check.params.get("command")
    if isinstance(raw, str):
        return shell_command(raw, ctx.env)
    if isinstance(raw, list) and all(isinstance(w, str) for w in raw):
        return shell_words(raw, ctx.env)
    return ShellCommand(text=command if isinstance(command, str) else shlex.join(command))


@check_kind("command", CommandParams)
async def check_command(ctx: CheckContext, p: CommandParams) -> Outcome:
    """Run a program and judge its exit code and output."""
    env = {**(dict(ctx.env) if p.pass_target_env else {}), **p.env}
    cwd = ctx.path(p.cwd) if p.cwd else ctx.workdir
    command: str | list[str]
    if p.shell:
        try:
            invocation = resolved_shell_command(ctx, p.command)
        except ShellTemplateError as exc:
            return Outcome(status=Status.ERROR, summary=str(exc))
        command, env = invocation.text, {**env, **invocation.env}
    else:
        command = resolved_command(ctx, p.command)
    shown = mask(command if isinstance(command, str) else shlex.join(command))
    box = Sandbox.create() if p.sandbox else None
    calls: list[str] = []
    try:
        if box is not None:
            env = box.environment(env)
        result = await run_process(command, env=env, cwd=cwd, shell=p.shell,
                                   sandbox=box.root if box is not None else None,
                                   max_output_bytes=p.max_output_bytes, cap_setting="max_output_bytes")
        if box is not None:
            calls = [describe_call(c) for c in box.calls()]
    except FileNotFoundError as exc:
        return Outcome.failed(f"cannot run `{shown}`: {exc.filename or exc} not found (is it installed, is cwd right?)",
                              command=shown, cwd=str(cwd))
    except OSError as exc:
        return Outcome.failed(f"cannot run `{shown}`: {exc.strerror}", command=shown)
    except CapExceeded as exc:
        return Outcome(status=Status.ERROR, summary=f"`{shown}`: {exc}", evidence={"command": shown, **exc.evidence()})
    finally:
        if box is not None:
            box.remove()
    output = result.stdout + "\n" + result.stderr
    evidence = {"command": shown, "exit_code": result.returncode, "duration_s": round(result.duration_s, 3),
                "output_tail": mask(result.tail(12))}
    if box is not None:
        evidence["intercepted_calls"] = [mask(c) for c in calls[:50]]
        acting = [c for c in calls if not any(fnmatch.fnmatchcase(c, g) for g in p.allow_calls)]
        if acting:
            listed = "; ".join(mask(c) for c in acting[:3]) + (f" (+{len(acting) - 3} more)" if len(acting) > 3 else "")
            return Outcome.failed(f"`{shown}` would have changed state ({len(acting)} call(s) intercepted in the "
                                  f"sandbox): {listed}", **evidence)
    if result.returncode not in p.expect_exit:
        expected = " or ".join(str(c) for c in p.expect_exit)
        cause = mask(result.cause())
        evidence["error_line"] = cause
        return Outcome.failed(f"`{shown}` exited {result.returncode} (expected {expected})"
                              + (f": {cause}" if cause else ""), **evidence)
    if p.expect_output and not re.search(p.expect_output, output):
        return Outcome.failed(f"`{shown}` output lacks /{p.expect_output}/", **evidence)
    if p.forbid_output and (m := re.search(p.forbid_output, output)):
        return Outcome.failed(f"`{shown}` printed forbidden text: {mask(m.group(0))[:80]}", **evidence)
    return Outcome.passed(f"`{shown}` exited {result.returncode} in {result.duration_s:.2f}s", **evidence)
