"""`python -m bench`: every benchmark, one after the other, each printing its figures.

Order: slash-command ack latency (+ the bot's idle/busy RSS), sign-off storm, phase wall time vs the
sum of its checks, and alert latency when bench/alert_latency.py is present. A benchmark that fails
is reported and the others still run; the exit code is non-zero if any failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

BENCHMARKS: list[tuple[str, str]] = [
    ("bench.ack_latency", "slash-command ack latency and bot RSS"),
    ("bench.signoff_storm", "sign-off storm"),
    ("bench.phase_wall_time", "phase wall time vs sum of checks"),
    ("bench.alert_latency", "alert latency"),
    ("bench.probe_latency", "probe latency with a CPU-heavy check vs isolated"),
    ("bench.latency_under_load", "every reported latency during full runs vs an independent client"),
    ("bench.cli_startup", "CLI start-up time and memory"),
    ("bench.socket_reconnect", "Socket Mode reconnect time per kind of drop"),
    ("bench.demo_server", "demo service start and stop"),
    ("bench.history_scale", "status, the bot and prune on a year of history (1,000,000 results)"),
    ("bench.web_render", "web view render time and page weight"),
    ("bench.hostile_target", "a hostile target: 1 GiB body, 100 MB output, /dev/zero settings"),
    ("bench.audit_verify", "golive audit verify over a long audit log: peak memory"),
    ("bench.many_services", "one bot, 50 services x 40 checks: ready, the overview, RSS, ack p99"),
]


@contextlib.contextmanager
def plain_argv() -> Any:
    """Benchmarks with their own argparse see no arguments (their defaults), not ours."""
    saved = sys.argv
    sys.argv = [saved[0]]
    try:
        yield
    finally:
        sys.argv = saved


def run_one(module_name: str, title: str) -> bool:
    if importlib.util.find_spec(module_name) is None:
        print(f"== {title}: skipped ({module_name} is not present)", flush=True)
        return True
    print(f"== {title} ({module_name})", flush=True)
    started = time.perf_counter()
    try:
        main: Callable[[], Any] = importlib.import_module(module_name).main
        with plain_argv():
            result = main()
            if inspect.iscoroutine(result):  # an async benchmark's main
                result = asyncio.run(result)
    except Exception:
        traceback.print_exc()
        print(f"   FAILED after {time.perf_counter() - started:.1f} s", flush=True)
        return False
    ok = not (isinstance(result, int) and not isinstance(result, bool) and result != 0)
    print(f"   ({time.perf_counter() - started:.1f} s{'' if ok else ', reported a miss'})\n", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    """`python -m bench [--quick] [name ...]`: --quick shrinks every benchmark to a smoke run (fewer
    bursts, trials and runs) that still prints every figure; the suite uses it."""
    args = list(argv if argv is not None else sys.argv[1:])
    if "--quick" in args:
        args.remove("--quick")
        os.environ["BENCH_QUICK"] = "1"
    only = set(args)
    results = [run_one(name, title) for name, title in BENCHMARKS
               if not only or name.rsplit(".", 1)[-1] in only]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
