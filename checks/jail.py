"""The launcher a check process starts through when namespaces are available: it confines the process,
then runs the real program.

Why a separate program: the confinement has to be set up between fork and exec, and doing that from the
bot's own threaded process (a `preexec_fn`) can deadlock. So golive runs
`python -I -S checks/jail.py [--no-network] [--cover PATH]... -- ARGV...` with the check's already
scrubbed environment; this file imports only the standard library, and the launcher is a fresh program
that never held a secret.

Inside, the program gets a new user, mount and PID namespace (and a network namespace with nothing but a
downed loopback with `--no-network`; and fresh /tmp, /var/tmp and /dev/shm with `--private-tmp`, keeping
the `--keep` directories). It keeps golive's file owner, so it reads the
checklist's scripts as before, but it has no capability after exec (its id inside is not 0), it sees a
fresh /proc holding only its own processes (no other process's environ, memory or fds to read), and every
protected path (`--cover`: the state dir, secret files, the .env file) is covered: a directory by an
empty read-only tmpfs, a file by /dev/null. It cannot undo the mounts: a nested namespace gets them locked.

Failures before exec print one line to stderr and exit 126 (cannot confine, cannot run) or 127 (not found).
"""

from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # the C module, no stub: `signal` imports enum (slow)
import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
INNER_ID = 65534  # the id the program has inside its user namespace: not 0, so exec leaves it no capability


class JailError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        raise JailError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def enter_namespaces(libc: ctypes.CDLL, *, network: bool) -> None:
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | (0 if network else CLONE_NEWNET)
    _check(libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{INNER_ID} {uid} 1")
    _write("/proc/self/gid_map", f"{INNER_ID} {gid} 1")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")


def cover(libc: ctypes.CDLL, paths: list[str]) -> None:
    """Hide each existing path: a directory behind an empty read-only tmpfs, a file behind /dev/null."""
    for path in paths:
        if os.path.isdir(path):
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              b"size=4k,mode=000"), f"cover {path}")
        elif os.path.exists(path):
            _check(libc.mount(b"/dev/null", path.encode(), None, MS_BIND, None), f"cover {path}")


def private_tmp(libc: ctypes.CDLL, keep: list[str]) -> None:
    """Fresh, empty /tmp, /var/tmp and /dev/shm, with the `keep` directories (the sandbox, the working
    directory) bound back at their own paths: what the program writes elsewhere there is thrown away."""
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in sorted(set(keep)) if os.path.isdir(path)}
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(tmp):
            _check(libc.mount(b"tmpfs", tmp.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=1777"), f"private {tmp}")
    for path, fd in held.items():  # parents first (sorted): a child already visible needs no mount
        if not os.path.isdir(path):
            os.makedirs(path)
            _check(libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None),
                   f"keep {path}")
        os.close(fd)


def run(argv: list[str]) -> None:
    """Exec the program (never returns), with the signal dispositions a program expects (Python ignores
    SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec)."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except FileNotFoundError:
        print(f"golive: {argv[0]}: not found", file=sys.stderr)
        os._exit(127)
    except OSError as exc:
        print(f"golive: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(126)


def reap(pid: int, report: int) -> None:
    """PID 1 of the namespace: wait for the program (reaping orphans), report its wait status, exit."""
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if done == pid:
            os.write(report, status.to_bytes(4, "little"))
            os._exit(0)


def main(args: list[str]) -> None:
    network, covered, tmp, keep = True, [], False, []
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--no-network":
            network = False
        elif option == "--private-tmp":
            tmp = True
        elif option in ("--cover", "--keep") and args:
            (covered if option == "--cover" else keep).append(args.pop(0))
        else:
            print(f"golive: jail: unknown option {option}", file=sys.stderr)
            sys.exit(126)
    argv = args[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        enter_namespaces(libc, network=network)
        cover(libc, covered)
        if tmp:
            private_tmp(libc, keep)
        os.chdir(os.getcwd())  # through the covering mounts, should the working directory be covered
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (JailError, OSError) as exc:
        print(f"golive: cannot confine the check process: {exc}", file=sys.stderr)
        sys.exit(126)
    read_end, write_end = os.pipe()
    init = os.fork()
    if init == 0:  # PID 1 in the new namespace: a /proc of its own, then the program as its child
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the program decides; init only waits
        try:
            _check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
        except JailError as exc:
            print(f"golive: cannot confine the check process: {exc}", file=sys.stderr)
            os._exit(126)
        child = os.fork()
        if child == 0:
            os.close(write_end)
            run(argv)
        reap(child, write_end)
    os.close(write_end)
    _, init_status = os.waitpid(init, 0)
    raw = os.read(read_end, 4)
    status = int.from_bytes(raw, "little") if len(raw) == 4 else init_status
    if os.WIFSIGNALED(status):  # die the same way, so the caller sees -SIGNAL as the return code
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
