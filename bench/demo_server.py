"""Start and stop of the bundled demo service: the tests start it about a hundred times, so both must be quick,
also with an answer still pending (a slow-mode pause ends when the stop begins).

Run: python -m bench.demo_server   (prints the figures; no assertion, numbers go in the notes)
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import httpx

from bot.demo.server import serve_target


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


def main() -> dict[str, float]:
    rounds = 20 if os.environ.get("BENCH_QUICK") else 100
    starts, stops, busy_stops, requests = [], [], [], []
    with httpx.Client(timeout=5) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            server = serve_target()
            starts.append(time.perf_counter() - started)
            asked = time.perf_counter()
            client.get(server.url("/healthz/live"))
            requests.append(time.perf_counter() - asked)
            stopping = time.perf_counter()
            server.stop()
            stops.append(time.perf_counter() - stopping)
        for _ in range(max(3, rounds // 10)):
            server = serve_target(mode="slow", delay_ms=30_000)
            pending = threading.Thread(target=client.get, args=(server.url("/healthz/live"),))
            pending.start()
            time.sleep(0.05)  # the request is in, its answer paused for 30 s
            stopping = time.perf_counter()
            server.stop()
            busy_stops.append(time.perf_counter() - stopping)
            pending.join()
    print(f"demo service x{rounds}: start {_ms(starts)}; stop {_ms(stops)}; "
          f"stop with a 30 s answer pending {_ms(busy_stops)}; first request {_ms(requests)}")
    return {"rounds": rounds, "start_ms_median": round(statistics.median(starts) * 1000, 2),
            "start_ms_max": round(max(starts) * 1000, 2), "stop_ms_median": round(statistics.median(stops) * 1000, 2),
            "stop_ms_max": round(max(stops) * 1000, 2),
            "busy_stop_ms_max": round(max(busy_stops) * 1000, 2)}


if __name__ == "__main__":
    main()
