"""Running external programs (pg_dump, alembic, deploy scripts) so a timeout really stops them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from checks.bounded import DEFAULT_MAX_OUTPUT_BYTES, READ_CHUNK, CapExceeded
from checks.masking import mask_line_in, mask_tail

# A line that reads as the error itself: a Python exception line (`pkg.SomeError: ...`, unindented, so
# traceback source lines do not count), alembic's `FAILED:`, a log/psql `ERROR`/`FATAL`/`PANIC`, `error:`.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Failure|Fault|Exit)\b:?")
_ERROR_WORD = re.compile(r"\b(?:ERROR|FATAL|PANIC|FAILED)\b|(?<![\w.])[Ee]rror:|\berror\b:")


def is_error_line(line: str) -> bool:
    if not line.strip():
        return False
    if line[:1].isspace():  # indented: traceback source and context lines, unless it shouts
        return bool(re.match(r"^\s+(?:ERROR|FATAL|PANIC)\b", line))
    return bool(_EXCEPTION_LINE.match(line) or _ERROR_WORD.search(line))


def first_error_line(text: str) -> str:
    """The first line of `text` that reads as an error, or "" (why: the last line is often boilerplate,
    like SQLAlchemy's "(Background on this error at: ...)", while the cause comes first)."""
    return next((line.strip() for line in text.splitlines() if is_error_line(line)), "")


@dataclass
class ProcessResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    def tail(self, lines: int = 15) -> str:
        """The last lines of output, masked in the context of the whole output (see `mask_tail`)."""
        return mask_tail(self.stderr.strip() or self.stdout.strip(), lines)

    def first_error_line(self) -> str:
        """The first error-looking line of stderr, else of stdout; "" when none reads as an error."""
        return first_error_line(self.stderr) or first_error_line(self.stdout)

    def cause(self) -> str:
        """What a failure summary should quote: the first error line, else the last line of output; masked
        in the context of the output it comes from."""
        if line := first_error_line(self.stderr):
            return mask_line_in(line, self.stderr)
        if line := first_error_line(self.stdout):
            return mask_line_in(line, self.stdout)
        return self.tail(1)


def to_argv(command: str | Sequence[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


async def run_process(
    command: str | Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: bytes | None = None,
    shell: bool = False,
    inherit_env: bool = True,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    cap_setting: str = "",
) -> ProcessResult:
    """Run a program to completion. On cancellation (a check timeout) the whole process group is killed.

    Its stdout and stderr together are read up to `max_output_bytes`: one byte more and the process group
    is killed and CapExceeded names the cap (and `cap_setting`, the setting that raises it, if there is one).

    `env` is laid over the bot's own environment unless `inherit_env` is false (then it is the whole
    environment: a sandboxed script sees nothing of the bot's settings).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    argv = [command] if shell and isinstance(command, str) else to_argv(command)
    if not inherit_env:
        full_env: dict[str, str] | None = dict(env or {})
    else:
        full_env = {**os.environ, **(env or {})} if env is not None else None
    kwargs = dict(
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(cwd) if cwd else None,
        env=full_env,
        start_new_session=True,
    )
    if shell:
        proc = await asyncio.create_subprocess_shell(argv[0], **kwargs)  # type: ignore[arg-type]
    else:
        proc = await asyncio.create_subprocess_exec(*argv, **kwargs)  # type: ignore[arg-type]
    try:
        name = "the shell command" if shell else f"{Path(argv[0]).name}"
        out, err = await _collect(proc, stdin, max_output_bytes, cap_setting, name)
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    return ProcessResult(
        argv=argv,
        returncode=proc.returncode if proc.returncode is not None else -1,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        duration_s=loop.time() - started,
    )


async def _collect(proc: asyncio.subprocess.Process, stdin: bytes | None, limit: int, setting: str,
                   name: str) -> tuple[bytes, bytes]:
    """`communicate()` with a cap: stdout and stderr are read as they come, counted together, and reading
    stops at the first byte over `limit` (the caller then kills the process group)."""
    total = 0

    async def pump(stream: asyncio.StreamReader | None, into: bytearray) -> None:
        nonlocal total
        if stream is None:
            return
        while chunk := await stream.read(READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise CapExceeded(f"the output of {name} (stdout + stderr)", limit, setting,
                                  action="killed it")
            into += chunk

    async def feed() -> None:
        if stdin is None or proc.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        proc.stdin.close()

    out, err = bytearray(), bytearray()
    tasks = [asyncio.ensure_future(c) for c in (pump(proc.stdout, out), pump(proc.stderr, err), feed())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # re-raise CapExceeded (or a pipe error)
    except BaseException:
        _close_pipes(proc)
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await proc.wait()
    return bytes(out), bytes(err)


def _close_pipes(proc: asyncio.subprocess.Process) -> None:
    """Close our ends of the pipes once we stop reading. asyncio's `Process.wait()` returns only after every
    pipe saw EOF, and a pipe left unread is paused and never sees it: the wait would hang forever."""
    transport = getattr(proc, "_transport", None)  # asyncio keeps the subprocess transport private
    for fd in (0, 1, 2):
        pipe = transport.get_pipe_transport(fd) if transport is not None else None
        if pipe is not None:
            pipe.close()
