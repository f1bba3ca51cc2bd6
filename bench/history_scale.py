"""A year of history: `golive status` and the bot on a store of 1,000,000 results vs one run, both stores.

For SQLite and for PostgreSQL (a database of its own on 127.0.0.1:5432, dropped afterwards):
1. builds a store with 1 run and one with 10,000 runs x 100 checks (bench.history, SQL, seconds);
2. `golive status` on each, a fresh process as a terminal or CI step starts it: wall time and peak
   memory side by side (targets: the big store within 1.5x the small one's time, peak under 80 MB);
3. "the latest result of each check" on the big store: the indexed query golive runs, next to the
   one-pass alternatives it replaces (DISTINCT ON / GROUP BY max), which still read every row;
4. `golive serve --http` on the big store against the local Slack stand-in: 20 concurrent signed
   `/golive status`, each reply posted within 3 s, the bot's RSS under 150 MB;
5. `golive prune --older-than 90d` on the big store: rows deleted, batches, the slowest batch (each
   batch is one transaction, so that is the longest any writer waits on it).

Run: python -m bench.history_scale [--runs N] [--no-prune]   (exit 1 on a miss, except with --quick)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout

from bench.cli_startup import measure
from bench.harness import BotProcess, RssSampler, SlackStub, post_signed, slash_command
from bench.history import fill_history, history_checklist, history_checklist_yaml
from bot.services.registry import DEFAULT_KEY
from bot.store import Store, open_store
from bot.store.retention import prune
from bot.store.store import LATEST_SQL

QUICK = bool(os.environ.get("BENCH_QUICK"))
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHECKS = 100
CONCURRENT = 20
TARGETS = {"status_ratio": 1.5, "status_peak_mb": 80.0, "reply_s": 3.0, "serve_rss_mb": 150.0}
ONE_PASS = {  # what a single query over the history would cost (what DISTINCT ON / GROUP BY max do)
    "postgres": ("DISTINCT ON", "SELECT DISTINCT ON (check_id) * FROM results WHERE checklist = :checklist "
                 "ORDER BY check_id, finished_at DESC"),
    "sqlite": ("GROUP BY max()", "SELECT *, max(finished_at) FROM results WHERE checklist = :checklist "
               "GROUP BY check_id"),
}


class Backend:
    """Where one store lives: a SQLite state dir or a PostgreSQL database of the bench's own."""

    def __init__(self, kind: str, workdir: Path, name: str) -> None:
        self.kind, self.name = kind, name
        self.state_dir = workdir / name
        self.url: str | None = None
        if kind == "postgres":
            import psycopg

            self.dbname = f"golive_bench_{name}_{os.getpid()}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
            self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.dbname}"

    def open(self) -> Store:
        return open_store(self.url, sqlite_path=self.state_dir / "golive.db")

    def env(self, checklist: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
        env.update(GOLIVE_STATE_DIR=str(self.state_dir), GOLIVE_CHECKLIST=str(checklist),
                   PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        if self.url:
            env["GOLIVE_DATABASE_URL"] = self.url
        return env

    def drop(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


def build(backend: Backend, runs: int) -> float:
    started = time.perf_counter()
    store = backend.open()
    try:
        fill_history(store.db, history_checklist(checks=CHECKS), runs)
    finally:
        store.close()
    return time.perf_counter() - started


def status_figures(backend: Backend, checklist: Path, trials: int) -> tuple[float, float]:
    samples = [measure(["status"], str(backend.state_dir.parent), backend.env(checklist)) for _ in range(trials)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def query_figures(backend: Backend) -> dict[str, float]:
    store = backend.open()
    params = {"checklist": "history", "service": DEFAULT_KEY}  # the history is the default service's
    try:
        out = {}
        for label, sql in (("indexed", LATEST_SQL[store.db.dialect]), ("one_pass", ONE_PASS[store.db.dialect][1])):
            started = time.perf_counter()
            rows = store.db.fetchall(sql, params)
            out[label] = (time.perf_counter() - started) * 1000
            assert len(rows) == CHECKS, (label, len(rows))
        return out
    finally:
        store.close()


def posted(stub: SlackStub) -> int:
    return len(stub.methods("chat.postMessage")) + len(stub.methods("chat.update"))


async def concurrent_status(bot: BotProcess, stub: SlackStub, n: int) -> list[float]:
    """n signed `/golive status` at once; seconds from sending until each reply reached the stand-in."""
    before = posted(stub)
    arrivals: list[float] = []
    async with ClientSession(timeout=ClientTimeout(total=30)) as http:
        started = time.perf_counter()
        results = await asyncio.gather(*(post_signed(http, bot.base_url + "/slack/events",
                                                     slash_command("status", response_url=stub.response_url(f"s{i}")))
                                         for i in range(n)))
        if any(status != 200 for status, _ in results):
            raise RuntimeError(f"not every command was acknowledged: {[s for s, _ in results]}\n{bot.log()}")
        while len(arrivals) < n:
            seen = posted(stub) - before
            arrivals += [time.perf_counter() - started] * (seen - len(arrivals))
            if time.perf_counter() - started > 60:
                raise TimeoutError(f"only {len(arrivals)} of {n} status replies were posted\n{bot.log()}")
            await asyncio.sleep(0.005)
    return arrivals[:n]


def serve_figures(backend: Backend, checklist: Path) -> dict[str, float]:
    stub = SlackStub().start()
    try:
        bot = BotProcess(stub, checklist, state_dir=backend.state_dir, database_url=backend.url)
        with bot:
            time.sleep(0.5)
            idle = bot.memory_kb()["VmRSS"] / 1024
            asyncio.run(concurrent_status(bot, stub, 2))  # warm up: first imports and connections
            with RssSampler(bot) as rss:
                replies = asyncio.run(concurrent_status(bot, stub, CONCURRENT))
            memory = bot.memory_kb()
        return {"idle_mb": idle, "busy_mb": max(rss.peak_kb, memory["VmRSS"]) / 1024, "hwm_mb": memory["VmHWM"] / 1024,
                "reply_max_s": max(replies), "reply_p50_s": statistics.median(replies)}
    finally:
        stub.stop()


def prune_figures(backend: Backend, older_than: timedelta) -> dict[str, float]:
    store = backend.open()
    batch_times: list[float] = []
    last = time.perf_counter()

    def timed(size: int) -> None:
        nonlocal last
        now = time.perf_counter()
        batch_times.append(now - last)
        last = now

    try:
        started = time.perf_counter()
        last = started
        report = prune(store, older_than, dry_run=False, actor="bench", on_batch=timed)
        total = time.perf_counter() - started
    finally:
        store.close()
    return {"rows": report.deleted, "runs": report.runs, "results": report.results, "batches": len(report.batches),
            "largest_batch": max(report.batches, default=0), "slowest_batch_ms": max(batch_times, default=0) * 1000,
            "total_s": total}


@contextmanager
def workspace() -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="golive-bench-history-"))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_backend(kind: str, runs: int, trials: int, do_prune: bool, workdir: Path) -> list[str]:
    """Every figure for one store; returns the misses."""
    workdir.mkdir(parents=True, exist_ok=True)
    checklist = workdir / "history.yml"
    checklist.write_text(history_checklist_yaml(checks=CHECKS), encoding="utf-8")
    small, big = Backend(kind, workdir, "small"), Backend(kind, workdir, "big")
    misses: list[str] = []
    try:
        build(small, 1)
        built = build(big, runs)
        small_wall, small_peak = status_figures(small, checklist, trials)
        big_wall, big_peak = status_figures(big, checklist, trials)
        ratio = big_wall / small_wall
        print(f"{kind:<9} golive status, 1 run ({CHECKS:,} results):{'':<12} wall {small_wall:5.2f} s   "
              f"peak {small_peak:5.1f} MB")
        print(f"{kind:<9} golive status, {runs:,} runs ({runs * CHECKS:,} results): wall {big_wall:5.2f} s   "
              f"peak {big_peak:5.1f} MB   ({ratio:.2f}x the 1-run time; store built in {built:.1f} s)")
        if ratio > TARGETS["status_ratio"]:
            misses.append(f"{kind}: status {ratio:.2f}x > {TARGETS['status_ratio']}x")
        if big_peak > TARGETS["status_peak_mb"]:
            misses.append(f"{kind}: status peak {big_peak:.0f} MB > {TARGETS['status_peak_mb']:.0f} MB")
        q = query_figures(big)
        print(f"{kind:<9} latest result of each check on {runs * CHECKS:,} results: indexed query "
              f"{q['indexed']:.1f} ms; one pass ({ONE_PASS[kind][0]}) {q['one_pass']:.1f} ms")
        if QUICK and kind != "sqlite":  # the smoke run starts one bot, not one per store
            return misses
        s = serve_figures(big, checklist)
        print(f"{kind:<9} golive serve on {runs * CHECKS:,} results: {CONCURRENT} concurrent /golive status, "
              f"every reply posted within {s['reply_max_s']:.2f} s (median {s['reply_p50_s']:.2f} s); RSS idle "
              f"{s['idle_mb']:.0f} MB, busy {s['busy_mb']:.0f} MB, peak {s['hwm_mb']:.0f} MB")
        if s["reply_max_s"] > TARGETS["reply_s"]:
            misses.append(f"{kind}: a status reply took {s['reply_max_s']:.2f} s")
        if s["hwm_mb"] > TARGETS["serve_rss_mb"]:
            misses.append(f"{kind}: bot RSS {s['hwm_mb']:.0f} MB > {TARGETS['serve_rss_mb']:.0f} MB")
        if do_prune:
            p = prune_figures(big, timedelta(days=90))
            print(f"{kind:<9} prune --older-than 90d: {p['runs']:,} runs and {p['results']:,} results "
                  f"({p['rows']:,} rows) in {p['batches']:,} batches of at most {p['largest_batch']} rows, "
                  f"{p['total_s']:.1f} s; slowest batch (one transaction) {p['slowest_batch_ms']:.0f} ms")
    finally:
        small.drop()
        big.drop()
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30 if QUICK else 10_000)
    parser.add_argument("--trials", type=int, default=1 if QUICK else 3)
    parser.add_argument("--no-prune", action="store_true")
    args = parser.parse_args(argv)
    misses: list[str] = []
    backends = ["sqlite"] + (["postgres"] if postgres_reachable() else [])
    if "postgres" not in backends:
        print(f"postgres  skipped: {PG_ADMIN.split('@')[-1]} is not reachable")
    with workspace() as workdir:
        for kind in backends:
            misses += run_backend(kind, args.runs, args.trials, not args.no_prune, workdir / kind)
    targets = (f"targets: status on the big store <= {TARGETS['status_ratio']}x the 1-run time and < "
               f"{TARGETS['status_peak_mb']:.0f} MB; every reply <= {TARGETS['reply_s']:.0f} s, bot RSS < "
               f"{TARGETS['serve_rss_mb']:.0f} MB")
    print(targets + (": " + "; ".join(misses) if misses else ": all met"))
    return 1 if misses and not QUICK else 0


if __name__ == "__main__":
    sys.exit(main())
