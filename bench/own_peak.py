"""One `golive` process, measured: wall time, CPU time and its own peak resident memory.

`python -m bot.cli ARGS` exactly (runpy, as -m does), plus one thing at exit: the process's own peak
resident memory, VmHWM of its own address space, written to the file named in argv[1].

Why not the kernel's rusage: ru_maxrss (getrusage(RUSAGE_CHILDREN), and even os.wait4 on this one pid)
keeps the high-water mark of the address space the child had *before* exec. subprocess starts children
with vfork (or fork), whose pre-exec address space is this benchmark's own, so every child "peaks" at the
size of the benchmark process (69 MB for a 13 MB `golive --help`). VmHWM belongs to the address space
exec created, so it counts what golive itself touched; it is gone once the process is a zombie, hence
read from inside at exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import IO

OWN_PEAK = """
import atexit, runpy, sys

def _own_peak(path=sys.argv[1]):
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(kb)

atexit.register(_own_peak)
sys.argv = ["golive", *sys.argv[2:]]
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""


def run_golive(argv: list[str], cwd: str, env: dict[str, str], *, output: IO[bytes] | int = subprocess.DEVNULL,
               ) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, its own peak RSS in MB) of one `golive ARGV` process. CPU time (user +
    system, from wait4: times, unlike the peak, are the child's own) shows the cost when a busy machine
    stretches the wall time. `output` receives its stdout and stderr."""
    peak_file = os.path.join(cwd, "peak-kb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", OWN_PEAK, peak_file, *argv], cwd=cwd, env=env,
                            stdout=output, stderr=subprocess.STDOUT if output != subprocess.DEVNULL else output)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = 0  # reaped above
    with open(peak_file) as kb:
        peak = int(kb.read()) / 1024
    os.unlink(peak_file)
    return wall, usage.ru_utime + usage.ru_stime, peak
