"""Phase wall time vs. the sum of its checks: 20 HTTP checks against a target that takes 200 ms each.

Run: python -m bench.phase_wall_time   (prints the figures; no assertion, numbers go in the notes)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from bot.demo.server import serve_target
from checks.loader import parse_checklist
from checks.runner import Runner

CHECKS = 20
DELAY_MS = 200


def checklist_yaml(n: int) -> str:
    lines = ["name: bench", "target: {base_url: '${TARGET}'}", "phases:", "  - id: phase", "    checks:"]
    lines += [f"      - {{id: probe{i}, kind: http, timeout: 5, params: {{url: /healthz/live}}}}" for i in range(n)]
    return "\n".join(lines) + "\n"


async def measure(base_url: str, trials: int = 2 if os.environ.get("BENCH_QUICK") else 5) -> list[tuple[float, float]]:
    checklist = parse_checklist(checklist_yaml(CHECKS), "bench.yml")
    out = []
    for _ in range(trials):
        runner = Runner(checklist, env={"TARGET": base_url}, concurrency=32)
        started = time.perf_counter()
        report = await runner.run(checklist.all_checks())
        wall = (time.perf_counter() - started) * 1000
        assert all(r.status.value == "pass" for r in report.results), [r.summary for r in report.results]
        out.append((wall, report.sum_ms))
    return out


def main() -> dict[str, float]:
    with serve_target(mode="slow", delay_ms=DELAY_MS) as target:
        samples = asyncio.run(measure(target.base_url))
    walls = [w for w, _ in samples]
    sums = [s for _, s in samples]
    figures = {
        "checks": CHECKS,
        "each_check_waits_ms": DELAY_MS,
        "wall_ms_median": round(statistics.median(walls), 1),
        "wall_ms_max": round(max(walls), 1),
        "sum_of_checks_ms_median": round(statistics.median(sums), 1),
        "speedup": round(statistics.median(sums) / statistics.median(walls), 1),
    }
    print(f"phase of {CHECKS} checks x {DELAY_MS} ms: wall median {figures['wall_ms_median']} ms "
          f"(max {figures['wall_ms_max']} ms) vs sum {figures['sum_of_checks_ms_median']} ms "
          f"-> {figures['speedup']}x")
    return figures


if __name__ == "__main__":
    main()
