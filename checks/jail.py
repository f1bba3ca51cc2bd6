"""The confined command line a check process starts through when the kernel allows user namespaces.

Why util-linux `unshare` and a few lines of /bin/sh rather than Python: the confinement has to be set up
between fork and exec, which from the bot's own threaded process (a `preexec_fn`) can deadlock, and a fresh
Python launcher cost 3 times more per process than these small programs (measured on the busy 2-core test
machine: about 120 ms against 40 ms).

    unshare --user --map-root-user --mount --pid --fork --mount-proc [--net] -- /bin/sh -c SETUP sh ARGV...

The outer namespaces belong to a user namespace in which the setup script is root: it covers every
protected path (the state dir, secret files, the .env file: a directory behind an empty read-only tmpfs,
a file behind /dev/null), optionally gives private /tmp, /var/tmp and /dev/shm (keeping the sandbox and
the working directory), then runs the program through a nested user namespace as uid 65534, so it has no
capability left: it keeps golive's file owner (it reads the checklist's scripts as before) but cannot
remove the mounts, sees a fresh /proc holding only its own processes (no other process's environ, memory
or fds), and with `--net` has no network at all. The program is PID 1 of its namespace: signals it sends
itself without a handler are ignored, and when it exits everything it started is killed.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence

INNER_ID = 65534  # the program's uid and gid inside: not 0, so exec leaves it no capability
TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def unshare_path() -> str | None:
    return shutil.which("unshare", path=os.environ.get("PATH") or os.defpath) or shutil.which(
        "unshare", path="/usr/bin:/bin:/usr/sbin:/sbin")


def setup_script(cover: Sequence[str], keep: Sequence[str] | None, unshare: str) -> str:
    """The /bin/sh text run as root of the new user namespace, ending in the exec of the program."""
    q = shlex.quote
    lines = ["set -e"]
    for path in cover:
        if os.path.isdir(path):
            lines.append(f"mount -t tmpfs -o ro,nosuid,nodev,noexec,size=4k,mode=000 golive-covered {q(path)}")
        elif os.path.exists(path):
            lines.append(f"mount --bind /dev/null {q(path)}")
    if keep is not None:
        held = [p for p in sorted(set(keep)) if os.path.isdir(p) and p.startswith(tuple(d + "/" for d in TEMP_DIRS))]
        for fd, path in enumerate(held[:6], start=3):  # open before the temp dirs are replaced
            lines.append(f"exec {fd}<{q(path)}")
        lines += [f"mount -t tmpfs -o nosuid,nodev,mode=1777 golive-private {d}" for d in TEMP_DIRS
                  if os.path.isdir(d)]
        for fd, path in enumerate(held[:6], start=3):  # parents first (sorted): a visible child needs no mount
            lines.append(f"[ -d {q(path)} ] || {{ mkdir -p {q(path)} && "
                         f"mount --no-canonicalize --rbind /proc/self/fd/{fd} {q(path)}; }}")
            lines.append(f"exec {fd}<&-")
    lines.append('cd -- "$PWD" && unset PWD OLDPWD')  # through the new mounts; the shell's own variables go
    lines.append(f'exec {q(unshare)} --user --map-user={INNER_ID} --map-group={INNER_ID} -- "$@"')
    return "\n".join(lines)


def jail_argv(argv: Sequence[str], *, unshare: str, network: bool = True, cover: Sequence[str] = (),
              keep: Sequence[str] | None = None) -> list[str]:
    """`argv` confined. `keep`: private temporary directories, keeping these (the sandbox, the cwd)."""
    outer = [unshare, "--user", "--map-root-user", "--mount", "--propagation", "private", "--pid", "--fork",
             "--mount-proc", *([] if network else ["--net"])]
    return [*outer, "--", "/bin/sh", "-c", setup_script(cover, keep, unshare), "sh", *argv]
