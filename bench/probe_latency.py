"""Honest latency: a probe's reported latency with a CPU-heavy check in the same phase vs. measured alone.

The target runs in its own process (answers in ~15 ms), so only golive's own load can move the
numbers. The CPU-heavy check burns golive's event loop in 10 ms slices for 1.5 s, the way parsing a
large document or hashing a backup would. Three runs, each repeated:

- isolated: the probe (`max_latency_ms` set) alone in its phase;
- honest:   the same probe next to the CPU-heavy check: the runner puts it in the quiet lane, after the
            heavy check, warmed up and judged on the median of its samples;
- naive:    the probe without a latency ceiling (one request, normal lane) next to the CPU-heavy check:
            what a ceiling would have been judged on before.

Bound: honest median ≤ isolated median x 1.2 + 10 ms.

Run: python -m bench.probe_latency  [--trials N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.request import urlopen

from bench.harness import free_port
from checks.loader import parse_checklist
from checks.registry import CheckContext, Params, check_kind, get_kind
from checks.result import Outcome
from checks.runner import Runner

SERVICE_MS = 15


class CpuParams(Params):
    seconds: float = 1.5


def _burn(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        sum(i * i for i in range(200))


async def cpu_heavy(ctx: CheckContext, p: CpuParams) -> Outcome:
    """Keeps golive's event loop busy in 10 ms slices."""
    end = time.perf_counter() + p.seconds
    while time.perf_counter() < end:
        _burn(10)
        await asyncio.sleep(0)
    return Outcome.passed(f"burned {p.seconds:g}s of CPU")


def register() -> None:
    if get_kind("bench.cpu") is None:
        check_kind("bench.cpu", CpuParams)(cpu_heavy)


def serve(port: int) -> None:
    """The target: an aiohttp app answering /healthz/live after SERVICE_MS, in its own process."""
    from aiohttp import web

    async def live(request: web.Request) -> web.Response:
        await asyncio.sleep(SERVICE_MS / 1000)
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz/live", live)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextlib.contextmanager
def target() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.probe_latency", "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urlopen(url + "/healthz/live", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the bench target did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def checklist(url: str, *, heavy: bool, ceiling: bool) -> str:
    params = "{url: /healthz/live, max_latency_ms: 1000}" if ceiling else "{url: /healthz/live}"
    checks = [f"      - {{id: probe, kind: http, timeout: 10, params: {params}}}"]
    if heavy:
        checks.insert(0, "      - {id: heavy, kind: bench.cpu, timeout: 10, params: {seconds: 1.5}}")
    return (f"name: bench\ntarget: {{base_url: '{url}'}}\nphases:\n  - id: phase\n    checks:\n"
            + "\n".join(checks) + "\n")


async def reported(url: str, *, heavy: bool, ceiling: bool, trials: int) -> list[float]:
    cl = parse_checklist(checklist(url, heavy=heavy, ceiling=ceiling), "bench.yml")
    values = []
    for _ in range(trials):
        report = await Runner(cl, env={}).run(cl.all_checks())
        probe = next(r for r in report.results if r.check_id == "probe")
        assert probe.status.value == "pass", probe.summary
        values.append(float(probe.evidence["latency_ms"]))
    return values


async def measure(trials: int) -> dict[str, float]:
    register()
    with target() as url:
        isolated = await reported(url, heavy=False, ceiling=True, trials=trials)
        honest = await reported(url, heavy=True, ceiling=True, trials=trials)
        naive = await reported(url, heavy=True, ceiling=False, trials=trials)
    figures = {"isolated_ms": statistics.median(isolated), "honest_ms": statistics.median(honest),
               "naive_ms": statistics.median(naive), "honest_max_ms": max(honest)}
    figures["bound_ms"] = figures["isolated_ms"] * 1.2 + 10
    return figures


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2 if os.environ.get("BENCH_QUICK") else 5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return {}
    figures = asyncio.run(measure(args.trials))
    ok = figures["honest_ms"] <= figures["bound_ms"]
    print(f"probe latency, target answers in ~{SERVICE_MS} ms, {args.trials} trials each (median of trials):")
    print(f"  isolated (probe alone)                  {figures['isolated_ms']:7.1f} ms")
    print(f"  honest   (with a CPU-heavy check)       {figures['honest_ms']:7.1f} ms  "
          f"(max {figures['honest_max_ms']:.1f})")
    print(f"  naive    (one request, no quiet lane)   {figures['naive_ms']:7.1f} ms")
    print(f"  bound: isolated x 1.2 + 10 ms = {figures['bound_ms']:.1f} ms → {'OK' if ok else 'EXCEEDED'}")
    return figures


if __name__ == "__main__":
    main()
