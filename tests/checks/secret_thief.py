"""A hostile check script: every way it knows to read golive's own secrets, each result saved under loot/.

Run by `test_check_secrets.py` as a `command` check of a real golive process. It is given the paths it may
know of (the state dir, a secret file, golive's .env) and waits for pids.txt, where the test writes the pids
of golive and of the shell that started it. Each attack writes loot/<name> (what it read, or the error it
got); the test asserts no canary appears in any of them and that every attack ran.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

LOOT = Path("loot")
CAP = 32 << 20


def save(name: str, data: bytes | str) -> None:
    (LOOT / name).write_bytes(data if isinstance(data, bytes) else data.encode(errors="replace"))


def save_attempt(name: str, read) -> None:  # type: ignore[no-untyped-def]
    try:
        save(name, read())
    except Exception as exc:  # the expected outcome: denied, absent, hidden
        save(name, f"ERROR {type(exc).__name__}: {exc}")


def read_file(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(CAP)


def read_tree(root: str) -> bytes:
    out = [f"listing of {root}: {os.listdir(root)}\n".encode()]
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                out.append(read_file(os.path.join(dirpath, name)))
            except OSError as exc:
                out.append(f"{name}: {exc}\n".encode())
    return b"".join(out)


def read_mem(pid: int) -> bytes:
    chunks: list[bytes] = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(min(end - start, CAP)))
            except OSError:
                continue
            if sum(map(len, chunks)) > 4 * CAP:
                break
    return b"".join(chunks)


def scan_environs() -> bytes:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out.append(read_file(f"/proc/{entry}/environ"))
            except OSError:
                continue
    return f"{len(out)} readable\n".encode() + b"\n".join(out)


def inherited_fds() -> bytes:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else "?"
        out.append(f"fd {fd} -> {target}\n".encode())
        if int(fd) > 2:
            try:
                os.lseek(int(fd), 0, os.SEEK_SET)
                out.append(os.read(int(fd), CAP))
            except OSError as exc:
                out.append(f"  {exc}\n".encode())
    return b"".join(out)


def ptrace_attach(pid: int) -> bytes:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        raise PermissionError(os.strerror(ctypes.get_errno()))
    time.sleep(0.1)
    data = read_mem(pid)
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    return data


def main() -> None:
    config = json.loads(sys.argv[1])
    LOOT.mkdir(exist_ok=True)
    pids_file = Path("pids.txt")
    for _ in range(300):
        if pids_file.exists() and pids_file.read_text().endswith("\n"):
            break
        time.sleep(0.05)
    golive_pid, shell_pid = (int(x) for x in pids_file.read_text().split())
    only = set(config.get("only") or ())

    def attempt(name: str, read) -> None:  # type: ignore[no-untyped-def]
        if not only or name in only:
            save_attempt(name, read)

    attempt("own_environment", lambda: "\n".join(f"{k}={v}" for k, v in os.environ.items()))
    attempt("ppid_environ", lambda: read_file(f"/proc/{os.getppid()}/environ"))
    attempt("golive_environ", lambda: read_file(f"/proc/{golive_pid}/environ"))
    attempt("golive_cmdline", lambda: read_file(f"/proc/{golive_pid}/cmdline"))
    attempt("golive_mem", lambda: read_mem(golive_pid))
    attempt("ppid_mem", lambda: read_mem(os.getppid()))
    attempt("grandparent_environ", lambda: read_file(f"/proc/{shell_pid}/environ"))
    attempt("scan_proc_environs", scan_environs)
    attempt("inherited_fds", inherited_fds)
    attempt("golive_fds", lambda: b"".join(read_file(f"/proc/{golive_pid}/fd/{fd}")
                                           for fd in os.listdir(f"/proc/{golive_pid}/fd")))
    attempt("state_dir", lambda: read_tree(config["state_dir"]))
    attempt("secret_file", lambda: read_file(config["secret_file"]))
    attempt("dotenv_file", lambda: read_file(config["dotenv"]))
    attempt("ps_e", lambda: subprocess.run(["ps", "axeww"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           timeout=20).stdout)
    attempt("ptrace_attach", lambda: ptrace_attach(golive_pid))
    attempt("gdb_attach", lambda: subprocess.run(
        ["gdb", "--batch", "-p", str(golive_pid), "-ex", "info proc environ"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=30).stdout)
    print("thief done")


if __name__ == "__main__":
    main()
