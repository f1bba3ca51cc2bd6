""""The latest result of each check" costs O(checks), not O(history), on both stores.

Proved by counting work, never by timing: SQLite's virtual-machine steps (a progress handler) and
PostgreSQL's rows read per plan node (EXPLAIN ANALYZE), on a few thousand rows, before and after ten
times more history. The old query (read every result, keep the last per check) is counted alongside,
so the counters are shown to be sensitive to history at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.history import fill_history, history_checklist
from bot.store import Store, open_store
from bot.store.store import LATEST_SQL
from checks.result import CheckResult, Criticality, Status

CHECKS = 30
OLD_SQL = ("SELECT r.* FROM results r JOIN runs u ON u.id = r.run_id WHERE u.checklist = :checklist "
           "ORDER BY r.finished_at")


def result(check_id: str, status: str, at: datetime) -> CheckResult:
    return CheckResult(check_id=check_id, kind="env", phase="p", criticality=Criticality.HIGH, status=Status(status),
                       summary=f"{status} at {at:%H:%M}", started_at=at, finished_at=at)


def sqlite_steps(store: Store, sql: str, params: dict[str, Any]) -> int:
    """Virtual-machine instructions SQLite executes for the query (counted in tens)."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn = store.db._conn  # type: ignore[attr-defined]  # the SQLite connection itself: only it counts steps
    conn.set_progress_handler(tick, 10)
    try:
        store.db.fetchall(sql, params)
    finally:
        conn.set_progress_handler(None, 10)
    return steps


def postgres_rows_read(store: Store, sql: str, params: dict[str, Any]) -> tuple[int, list[str]]:
    """(rows the plan's nodes on `results` produced, over all their loops; the kinds of scan used)."""
    plan = store.db.fetchall("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)[0]["QUERY PLAN"]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    rows, scans = 0, []

    def walk(node: dict[str, Any]) -> None:
        nonlocal rows
        if node.get("Relation Name") == "results":
            scans.append(node["Node Type"])
            rows += int(node["Actual Rows"]) * int(node["Actual Loops"]) + int(node.get("Rows Removed by Filter", 0))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return rows, scans


def work(store: Store, sql: str) -> int:
    params = {"checklist": "history", "service": store.service}
    if store.db.dialect == "sqlite":
        return sqlite_steps(store, sql, params)
    return postgres_rows_read(store, sql, params)[0]


def test_latest_results_do_the_same_work_with_ten_times_the_history(store: Store) -> None:
    checklist = history_checklist(checks=CHECKS, phases=3)
    end = datetime.now(UTC).replace(microsecond=0)
    fill_history(store.db, checklist, 10, end=end - timedelta(days=1))
    small_new, small_old = work(store, LATEST_SQL[store.db.dialect]), work(store, OLD_SQL)
    fill_history(store.db, checklist, 90, end=end, first=10)  # 100 runs, 3,000 results
    big_new, big_old = work(store, LATEST_SQL[store.db.dialect]), work(store, OLD_SQL)
    assert big_old > 5 * small_old, (small_old, big_old)  # the counter sees history...
    assert big_new <= 1.3 * small_new + 20, (small_new, big_new)  # ...and the query does not read it
    if store.db.dialect == "postgres":
        # each check: one seek to the next check id, one to its newest row; nothing else is read
        rows, scans = postgres_rows_read(store, LATEST_SQL["postgres"], {"checklist": "history", "service": "default"})
        assert rows <= 2 * CHECKS + 2 and "Seq Scan" not in scans and scans, (rows, scans)
    latest = store.latest_results("history")
    assert len(latest) == CHECKS and all(r.finished_at > end - timedelta(minutes=5) for r in latest.values())


def test_the_query_plan_only_seeks_the_index_on_sqlite(tmp_path: Path) -> None:
    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    try:
        plan = [r["detail"] for r in store.db.fetchall("EXPLAIN QUERY PLAN " + LATEST_SQL["sqlite"],
                                                       {"checklist": "history", "service": "default"})]
    finally:
        store.close()
    on_results = [d for d in plan if " f " in f" {d} " or any(f" {a} " in f" {d} " for a in ("n", "l", "r"))]
    assert on_results and all(d.startswith("SEARCH") for d in on_results), plan
    assert any("results_latest" in d for d in on_results), plan


def test_the_newest_result_of_each_check_wins_whatever_the_order_of_runs(store: Store) -> None:
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = store.create_run(checklist="history", selector="all")
    second = store.create_run(checklist="history", selector="p")
    other = store.create_run(checklist="elsewhere", selector="all")
    store.add_result(second.id, result("a", "fail", t0 + timedelta(minutes=5)))
    store.add_result(first.id, result("a", "pass", t0))  # written later, but older
    store.add_result(first.id, result("b", "warn", t0))  # only ever run once: still the latest of b
    store.add_result(other.id, result("a", "error", t0 + timedelta(hours=1)))  # another checklist's
    latest = store.latest_results("history")
    assert {c: r.status.value for c, r in latest.items()} == {"a": "fail", "b": "warn"}
    assert store.latest_results("elsewhere")["a"].status is Status.ERROR
    assert store.latest_results("nothing-here") == {}
    stored = store.db.fetchone("SELECT checklist FROM results WHERE run_id = :id", {"id": other.id})
    assert stored == {"checklist": "elsewhere"}  # add_result copies the run's checklist onto the result


def test_the_whole_status_card_does_the_same_work_with_ten_times_the_history(tmp_path: Path) -> None:
    """Every query `golive status` makes (latest results, running runs, recent runs, sign-offs, waivers,
    the deployment record), counted together in SQLite steps."""
    from bot.runs.status import build_status

    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    checklist = history_checklist(checks=CHECKS, phases=3)
    conn = store.db._conn  # type: ignore[attr-defined]  # the SQLite connection itself: only it counts steps
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    def status_steps() -> int:
        nonlocal steps
        build_status(store, checklist)  # once to settle what a first call writes (the reaper's sweep)
        steps = 0
        conn.set_progress_handler(tick, 10)
        try:
            overview = build_status(store, checklist)
        finally:
            conn.set_progress_handler(None, 10)
        assert sum(p.total - p.pending for p in overview.phases) == CHECKS
        return steps

    try:
        end = datetime.now(UTC).replace(microsecond=0)
        fill_history(store.db, checklist, 10, end=end - timedelta(days=1))
        small = status_steps()
        fill_history(store.db, checklist, 90, end=end, first=10)
        big = status_steps()
    finally:
        store.close()
    assert big <= 1.3 * small + 20, (small, big)
