"""One contract, two backends: the embedded SQLite store and PostgreSQL behave the same."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest

from bot.signoff.service import SignoffService
from bot.store import Store, StoreUnavailable, open_store
from checks.loader import parse_checklist
from checks.result import CheckResult, Criticality, Status
from checks.verdict import Decision, decide
from tests.conftest import PG_URL

CHECKLIST = parse_checklist("""
name: contract
phases:
  - id: day1
    checks:
      - {id: a, kind: env, criticality: critical, params: {var: A}}
      - {id: b, kind: env, criticality: high, params: {var: B}}
""", "contract.yml")

SECRET_URL = "postgresql://app:Store-Secret-42@db.internal/app"


def result(cid: str, status: str, crit: str = "critical", summary: str = "ok") -> CheckResult:
    return CheckResult(check_id=cid, kind="env", phase="day1", criticality=Criticality(crit), status=Status(status),
                       summary=summary, evidence={"url": SECRET_URL})


def test_a_run_its_results_and_its_verdict_round_trip(store: Store) -> None:
    run = store.create_run(checklist="contract", selector="day1", requested_by="U1", source="slack",
                           expected=CHECKLIST.all_checks())
    assert run.status == "running" and run.expected == ["a", "b"]
    store.add_result(run.id, result("a", "pass"))
    store.add_result(run.id, result("b", "fail", "high", "not ok"))
    results = store.results(run.id)
    verdict = decide(CHECKLIST.all_checks(), {r.check_id: r for r in results})
    store.finish_run(run.id, verdict, wall_ms=12.5)
    again = store.get_run(run.id)
    assert again is not None and again.status == "finished" and again.wall_ms == 12.5
    assert again.verdict is not None and again.verdict.decision is Decision.CONDITIONAL
    assert {r.check_id: r.status for r in results} == {"a": Status.PASS, "b": Status.FAIL}


def test_latest_results_take_the_newest_of_each_check(store: Store) -> None:
    first = store.create_run(checklist="contract", selector="day1")
    store.add_result(first.id, result("a", "fail"))
    second = store.create_run(checklist="contract", selector="a")
    store.add_result(second.id, result("a", "pass"))
    latest = store.latest_results("contract")
    assert latest["a"].status is Status.PASS and "b" not in latest


def test_interrupted_runs_are_marked_once(store: Store) -> None:
    run = store.create_run(checklist="contract", selector="day1")
    assert [r.id for r in store.runs(status="running")] == [run.id]
    assert store.mark_interrupted(run.id) is True
    assert store.mark_interrupted(run.id) is False
    assert store.get_run(run.id).status == "interrupted"  # type: ignore[union-attr]


def test_messages_are_remembered_and_replaced(store: Store) -> None:
    store.remember_message(subject="run1", transport="slack", purpose="parent", channel="C1", ts="1.1")
    store.remember_message(subject="run1", transport="slack", purpose="parent", channel="C1", ts="1.2")
    store.remember_message(subject="run1", transport="slack", purpose="thread:a", channel="C1", ts="1.3",
                           thread_ts="1.2")
    assert store.message("run1", "slack").ts == "1.2"  # type: ignore[union-attr]
    assert [m.purpose for m in store.messages("run1")] == ["parent", "thread:a"]


def test_audit_log_is_append_only(store: Store) -> None:
    store.audit(actor="U1", action="signoff.approve", subject="req1", detail={"role": "tech_lead"})
    assert store.audit_log()[0]["detail"] == {"role": "tech_lead"}
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("DELETE FROM audit")
    assert len(store.audit_log()) == 1


def test_no_secret_reaches_a_row(store: Store) -> None:
    run = store.create_run(checklist="contract", selector="day1", requested_by=SECRET_URL)
    store.add_result(run.id, result("a", "fail", summary=f"cannot connect to {SECRET_URL}"))
    store.audit(actor="U1", action="x", subject="y", detail={"dsn": SECRET_URL, "password": "plain-pw"})
    store.put("k", {"url": SECRET_URL})
    dump = json.dumps([store.db.fetchall(f"SELECT * FROM {t}") for t in ("runs", "results", "audit", "kv")],
                      default=str)
    assert "Store-Secret-42" not in dump and "plain-pw" not in dump
    assert "app:***@db.internal" in dump


def test_a_signoff_is_recorded_once_under_concurrent_clicks(store: Store) -> None:
    service = SignoffService(store, CHECKLIST)
    request = service.open_request("pre", requested_by="U0")
    outcomes: list[bool] = []

    def click() -> None:
        outcomes.append(service.record(request.id, "tech_lead", "approve", user_id="U1"))

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(True) == 1
    assert len(store.audit_log(action="signoff.approve")) == 1
    state = service.state(["pre"])
    assert state.approved == {"pre:tech_lead": "U1"}
    assert set(state.missing) == {"pre:devops_lead", "pre:product_owner"}


def test_a_rejection_counts_until_withdrawn(store: Store) -> None:
    service = SignoffService(store, CHECKLIST)
    request = service.open_request("pre", requested_by="U0")
    assert service.record(request.id, "devops_lead", "reject", user_id="U2", reason="restore not tested")
    assert service.state(["pre"]).rejected == {"pre:devops_lead": "U2: restore not tested"}
    assert service.withdraw(request.id, "devops_lead", user_id="U2")
    assert service.state(["pre"]).rejected == {}
    actions = [e["action"] for e in store.audit_log(subject=request.id)]
    assert actions[:2] == ["signoff.withdrawn", "signoff.reject"]


def test_kv_round_trip(store: Store) -> None:
    assert store.get("rollout:x:phase") is None
    store.put("rollout:x:phase", "phase-2")
    store.put("rollout:x:phase", "phase-3")
    assert store.get("rollout:x:phase") == "phase-3"


def test_an_unreachable_postgres_store_says_so_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as err:
        open_store("postgresql://app:Unreachable-Pw-1@127.0.0.1:1/app")
    message = str(err.value)
    assert "Unreachable-Pw-1" not in message
    assert "unreachable" in message.lower() or "cannot reach" in message


def test_postgres_schema_isolation(pg_schema: str) -> None:
    s = open_store(PG_URL, schema=pg_schema)
    try:
        s.put("only-here", 1)
        with psycopg.connect(PG_URL) as conn:
            count = conn.execute(f'SELECT count(*) FROM "{pg_schema}".kv').fetchone()  # type: ignore[arg-type]
        assert count == (1,)
    finally:
        s.close()


def test_concurrent_writes_of_one_key_never_collide(pg_schema: str) -> None:
    """Readiness pings and the watch write the same key/value rows from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import PG_URL

    store = open_store(PG_URL, schema=pg_schema)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: store.put("ping", i), range(200)))
        assert store.get("ping") in range(200)
    finally:
        store.close()
