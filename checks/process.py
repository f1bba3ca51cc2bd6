"""Running external programs (pg_dump, alembic, deploy scripts) so a timeout really stops them, and so
none of them can read golive's own secrets (`prepare_spawn`, `checks.jail`)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from checks.bounded import DEFAULT_MAX_OUTPUT_BYTES, READ_CHUNK, CapExceeded
from checks.jail import jail_argv, unshare_path
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


# --- spawning: how every process a check starts is confined (README "What a target can and cannot do") ---

Mode = Literal["auto", "namespaces", "user", "none"]
# What a check process gets from golive's own environment, whatever the target: names, never values of
# golive's settings. Everything else it sees is what the caller passes (the target's settings).
BASE_ENV = ("PATH", "LANG", "LANGUAGE", "TZ")
BASE_ENV_PREFIXES = ("LC_",)
UNSHARE = unshare_path()


@dataclass
class Confinement:
    """How check processes are confined; the bot sets it from its settings (`configure_confinement`)."""

    mode: Mode = "auto"
    user: str = "nobody"  # `user` mode: whom a root golive runs checks as
    cover: tuple[str, ...] = ()  # paths a check must not read: the state dir, secret files, the .env file
    secret_env: frozenset[str] = frozenset()  # golive's own secret variables: never passed to a check
    pass_env: tuple[str, ...] = ()  # more of golive's environment the operator lets through (KUBECONFIG)
    resolved: str | None = field(default=None, repr=False)


CONFINEMENT = Confinement()


def configure_confinement(*, mode: Mode = "auto", user: str = "nobody", cover: Sequence[str | Path] = (),
                          secret_env: Sequence[str] = (), pass_env: Sequence[str] = ()) -> Confinement:
    """Set how check processes are confined and make this process undumpable (so a process of the same
    user cannot read its /proc environ or memory)."""
    paths = {os.path.realpath(p) for p in cover} | {os.path.abspath(p) for p in cover}
    conf = CONFINEMENT  # changed in place: modules hold a reference to it
    conf.mode, conf.user, conf.cover, conf.resolved = mode, user, tuple(sorted(paths)), None
    conf.secret_env = frozenset(secret_env)
    conf.pass_env = tuple(n for n in pass_env if n not in conf.secret_env)
    set_dumpable(False)
    return conf


def set_dumpable(dumpable: bool) -> bool:
    """PR_SET_DUMPABLE: when 0, /proc/<pid>/environ, mem, fd of this process are root's only."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(4, 1 if dumpable else 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def confinement_mode() -> str:
    """The mode in force: `auto` becomes namespaces when this kernel lets us create them, else `user`
    when golive runs as root, else `none`."""
    conf = CONFINEMENT
    if conf.resolved is None:
        if conf.mode != "auto":
            conf.resolved = conf.mode
        elif _namespaces_work():
            conf.resolved = "namespaces"
        else:
            conf.resolved = "user" if os.geteuid() == 0 else "none"
    return conf.resolved


def _namespaces_work() -> bool:
    if UNSHARE is None:
        return False
    try:
        done = subprocess.run(jail_argv(["true"], unshare=UNSHARE, network=False, keep=[]),
                              env=child_env({}),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def check_ids() -> tuple[int, int] | None:
    """(uid, gid) check processes run as when that differs from golive's own (`user` mode as root)."""
    if confinement_mode() != "user" or os.geteuid() != 0:
        return None
    user = CONFINEMENT.user
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise PermissionError(errno.EPERM, f"GOLIVE_CHECK_USER={user} is no user here: name an unprivileged "
                              "user (checks are not run as root)") from None
    if entry.pw_uid == 0:
        raise PermissionError(errno.EPERM, f"GOLIVE_CHECK_USER={user} is root: name an unprivileged user")
    return entry.pw_uid, entry.pw_gid


def give_to_check(path: Path) -> None:
    """Make a directory golive created for a check (a sandbox) the check process's own."""
    ids = check_ids()
    if ids is None:
        return
    for root, dirs, files in os.walk(path):
        for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
            os.chown(name, *ids)


def close_covered() -> None:
    """`user` mode has no mounts to cover paths with: the paths golive owns become its own only (0700/0600),
    so the check's user cannot read them (the state dir appears after configuration: done at every spawn)."""
    for path in CONFINEMENT.cover:
        with contextlib.suppress(OSError):  # absent, or not ours to change (a read-only secrets volume)
            info = os.stat(path)
            if info.st_uid == os.geteuid():
                os.chmod(path, 0o700 if os.path.isdir(path) else 0o600)


def child_env(env: Mapping[str, str], scratch: Path | None = None) -> dict[str, str]:
    """The whole environment of a check process: an allowlist of golive's own (PATH, locale, what the
    operator passes), HOME and TMPDIR in a scratch directory, then `env`; never one of golive's secrets."""
    conf = CONFINEMENT
    out = {k: v for k, v in os.environ.items()
           if (k in BASE_ENV or k.startswith(BASE_ENV_PREFIXES) or k in conf.pass_env) and k not in conf.secret_env}
    out.setdefault("PATH", os.defpath)
    if scratch is not None:
        out.update(HOME=str(scratch / "home"), TMPDIR=str(scratch / "tmp"))
    for name, value in env.items():  # the target's settings; one named like a secret of golive's is the
        if "\0" in name + value or (name in conf.secret_env and os.environ.get(name) == value):  # target's
            continue  # unless it is golive's own value; NUL cannot be passed at all
        out[name] = value
    return out


def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="golive-check-"))
    for sub in ("home", "tmp"):
        (root / sub).mkdir()
    give_to_check(root)
    return root


def resolve_program(program: str, env: Mapping[str, str], cwd: str | None) -> str:
    """Fail as exec would (FileNotFoundError, NotADirectoryError) before the launcher starts, so callers
    keep telling "not installed" from "failed"."""
    if cwd is not None and not os.path.isdir(cwd):
        error = NotADirectoryError if os.path.exists(cwd) else FileNotFoundError
        raise error(errno.ENOTDIR if error is NotADirectoryError else errno.ENOENT, "not a directory", cwd)
    if os.sep in program:
        path = os.path.join(cwd or os.getcwd(), program)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", program)
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", program)
    return program


@dataclass
class Spawn:
    """What `asyncio.create_subprocess_exec` is called with, and the scratch directory to remove after."""

    argv: list[str]
    kwargs: dict[str, Any]
    scratch: Path | None

    def cleanup(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def prepare_spawn(argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: str | Path | None,
                  sandbox: Path | None = None) -> Spawn:
    """The one place golive decides how a process starts: confined (checks.jail), with an allowlisted
    environment, no inherited file descriptor, in a session of its own (a timeout kills the group).

    `sandbox`: the directory of a checks.sandbox.Sandbox whose environment `env` is. The program then has
    no network and private /tmp, /var/tmp and /dev/shm (namespaces mode), keeping the sandbox and its cwd.
    """
    mode = confinement_mode()
    home = _scratch() if sandbox is None else None
    full_env = child_env(env or {}, home)
    workdir = str(cwd) if cwd else None
    try:
        resolve_program(argv[0], full_env, workdir)
    except BaseException:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
        raise
    kwargs: dict[str, Any] = dict(cwd=workdir, env=full_env, start_new_session=True, close_fds=True)
    if mode == "namespaces":
        keep = None if sandbox is None else [str(sandbox), os.path.abspath(workdir or os.getcwd())]
        assert UNSHARE is not None  # confinement_mode() says namespaces only when it is there
        jailed = jail_argv(argv, unshare=UNSHARE, network=sandbox is None, cover=CONFINEMENT.cover, keep=keep)
        return Spawn(argv=jailed, kwargs=kwargs, scratch=home)
    if (ids := check_ids()) is not None:  # `user`: a root golive runs the check as an unprivileged user
        close_covered()
        kwargs.update(user=ids[0], group=ids[1], extra_groups=[])
    return Spawn(argv=list(argv), kwargs=kwargs, scratch=home)


T = TypeVar("T")


async def finish_if_cancelled(step: Awaitable[T], undo: Callable[[T], Awaitable[Any]]) -> T:
    """Await a step that cannot be interrupted halfway (a thread making the scratch folder, a process being
    started). A check's timeout cancels the run at any moment: then the step still finishes and `undo` removes
    what it made (the folder, the process group), so a timeout never leaves a folder or a program behind."""
    pending = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(pending)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):  # the cancellation below is what the caller must see
            await undo(await pending)
        raise


async def _kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()


async def run_process(
    command: str | Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: bytes | None = None,
    shell: bool = False,
    sandbox: Path | None = None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    cap_setting: str = "",
) -> ProcessResult:
    """Run a program to completion. On cancellation (a check timeout) the whole process group is killed.

    `env` is the program's environment on top of `child_env`'s allowlist: nothing else of golive's own
    environment reaches it; HOME and TMPDIR are a fresh directory removed afterwards, or the sandbox's
    (`sandbox`, see `prepare_spawn`).

    Its stdout and stderr together are read up to `max_output_bytes`: one byte more and the process group
    is killed and CapExceeded names the cap (and `cap_setting`, the setting that raises it, if there is one).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    argv = ["/bin/sh", "-c", command] if shell and isinstance(command, str) else to_argv(command)
    spawn = await finish_if_cancelled(asyncio.to_thread(prepare_spawn, argv, env=env, cwd=cwd, sandbox=sandbox),
                                      lambda late: asyncio.to_thread(late.cleanup))
    try:
        proc = await finish_if_cancelled(asyncio.create_subprocess_exec(
            *spawn.argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            **spawn.kwargs,
        ), _kill_and_reap)
        name = "the shell command" if shell else f"{Path(argv[0]).name}"
        try:
            out, err = await _collect(proc, stdin, max_output_bytes, cap_setting, name)
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
            raise
    finally:
        # removing the scratch tree took 16-27 ms of the bot's loop per command check (bench.many_services):
        # a thread does it; shielded, so a cancelled run still leaves nothing behind
        await asyncio.shield(asyncio.to_thread(spawn.cleanup))
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
