"""Retention: history older than an age goes, in batches of bounded size, audited; whatever the verdict,
the gate or the deployment record still needs stays. Both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.history import fill_history, history_checklist
from bot.rollout.chart import remember
from bot.rollout.charts import WINDOW, stored_points
from bot.rollout.metrics import Sample
from bot.rollout.records import RolloutRecords
from bot.store import Store
from bot.store.retention import PRUNED_EVENTS_KEY, parse_age, prune, retention_days
from checks.result import CheckResult, Criticality, Status

NOW = datetime.now(UTC).replace(microsecond=0)
CHECKLIST = history_checklist(checks=10, phases=2)


def backdate(store: Store, run_id: str, days: float) -> None:
    store.db.execute("UPDATE runs SET started_at = :at WHERE id = :id",
                     {"id": run_id, "at": (NOW - timedelta(days=days)).isoformat()})


def old_run(store: Store, days: float, *, check_id: str | None = None, running: bool = False) -> str:
    run = store.create_run(checklist=CHECKLIST.name, selector="old")
    if check_id:
        at = NOW - timedelta(days=days)
        store.add_result(run.id, CheckResult(check_id=check_id, kind="env", phase="phase0",
                                             criticality=Criticality.HIGH, status=Status.PASS, summary="ok",
                                             started_at=at, finished_at=at))
    if not running:
        store.db.execute("UPDATE runs SET status = 'finished' WHERE id = :id", {"id": run.id})
    backdate(store, run.id, days)
    return run.id


@pytest.fixture
def history(store: Store) -> dict[str, str]:
    """30 runs x 10 checks, one every 10 days over 300 days, plus old runs that must stay."""
    fill_history(store.db, CHECKLIST, 30, end=NOW - timedelta(hours=1), spacing=timedelta(days=10))
    keep = {
        "lonely": old_run(store, 250, check_id="retired.check"),  # the only result of a check: the latest
        "signed": old_run(store, 200),
        "running": old_run(store, 150, running=True),
    }
    store.db.execute("INSERT INTO signoff_requests (id, stage, checklist, run_id, requested_by, created_at) "
                     "VALUES ('req1', 'pre', :c, :run, 'U1', :at)",
                     {"c": CHECKLIST.name, "run": keep["signed"], "at": NOW.isoformat()})
    pruned = "hhistory-0"  # the oldest filled run (290 days)
    store.remember_message(subject=pruned, transport="slack", purpose="parent", channel="C1", ts="1.1")
    store.put(f"delivery-failures:{pruned}", [{"transport": "slack", "checks": ["check0001"]}])
    store.put(f"deployment:{CHECKLIST.name}", {"promotions": 3})
    store.audit(actor="U1", action="before.prune", subject="x")
    return keep


def counts(store: Store) -> dict[str, int]:
    return {t: int(store.db.fetchone(f"SELECT count(*) AS n FROM {t}")["n"])  # type: ignore[index]  # count(*) always returns a row
            for t in ("runs", "results", "audit", "messages")}


def test_a_dry_run_counts_and_deletes_nothing(store: Store, history: dict[str, str]) -> None:
    before = counts(store)
    report = prune(store, timedelta(days=90), now=NOW)
    assert report.dry_run and report.batches == []
    assert (report.runs, report.results) == (21, 210)  # runs 90+ days old: 100 .. 290 days
    assert report.kept_runs == 3  # lonely, signed, running
    assert counts(store) == before


def test_prune_deletes_old_history_in_bounded_batches_and_keeps_what_decides(store: Store,
                                                                           history: dict[str, str]) -> None:
    latest_before = store.latest_results(CHECKLIST.name)
    before = counts(store)
    report = prune(store, timedelta(days=90), dry_run=False, batch_size=10, now=NOW, actor="cli:ops")
    # a run with its 10 results is 11 rows: more than one batch, so runs are split across batches too
    assert report.batches and max(report.batches) <= 10 and sum(report.batches) == report.deleted
    assert (report.runs, report.results, report.other_rows) == (21, 210, 2)
    after = counts(store)
    assert after["runs"] == before["runs"] - 21 and after["results"] == before["results"] - 210
    left = {r["id"] for r in store.db.fetchall("SELECT id FROM runs")}
    assert set(history.values()) <= left  # the latest result of a retired check, a signed run, a running one
    assert store.latest_results(CHECKLIST.name) == latest_before  # the verdict reads exactly what it read
    assert store.message("hhistory-0", "slack") is None and store.get("delivery-failures:hhistory-0") is None
    assert store.get(f"deployment:{CHECKLIST.name}") == {"promotions": 3}
    # the audit log keeps everything, and records the prune
    assert after["audit"] == before["audit"] + 1 and store.verify_audit()[1] is None
    row = store.audit_log(action="store.pruned")[0]
    assert row["actor"] == "cli:ops" and row["detail"]["runs"] == 21 and row["detail"]["largest_batch"] <= 10
    again = prune(store, timedelta(days=90), dry_run=False, now=NOW)
    assert again.deleted == 0 and len(store.audit_log(action="store.pruned")) == 1  # nothing to do, nothing logged


def test_rollout_events_are_folded_into_the_deployment_record_before_they_go(store: Store) -> None:
    records = RolloutRecords(store, CHECKLIST.name)
    for action, ok in [("promote", True), ("refused", False), ("promote", True), ("rollback", True),
                       ("promote", False), ("promote", True)]:
        records.add_event(action, phase="phase-1", from_phase=None, actor="U1", ok=ok)
    seqs = [r["seq"] for r in store.db.fetchall("SELECT seq FROM rollout_events ORDER BY seq")]
    for n, seq in enumerate(seqs):  # the first four are a year old, the last two recent
        at = NOW - timedelta(days=400 - n) if n < 4 else NOW - timedelta(days=2 - n / 10)
        store.db.execute("UPDATE rollout_events SET at = :at WHERE seq = :seq", {"at": at.isoformat(), "seq": seq})
    opened = NOW - timedelta(days=390)
    records.incident_opened(id="inc1", level="P0", phase="phase-1", rules=["error_rate"], message="5xx",
                            opened_at=opened)
    store.db.execute("UPDATE rollout_incidents SET resolved_at = :at WHERE id = 'inc1'",
                     {"at": (opened + timedelta(seconds=90)).isoformat()})
    keys = ("started_at", "downtime_seconds", "promotions", "promotions_succeeded", "rollback_count", "refusals",
            "success_rate")
    before = records.deployment()
    report = prune(store, timedelta(days=180), dry_run=False, batch_size=10, now=NOW)
    assert (report.events, report.incidents) == (4, 1)
    assert len(store.db.fetchall("SELECT seq FROM rollout_events")) == 2
    after = records.deployment()
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}
    assert before["promotions"] == 4 and before["downtime_seconds"] == 90.0
    assert store.get(PRUNED_EVENTS_KEY.format(checklist=CHECKLIST.name))["promotions"] == 2


def test_the_watch_keeps_a_bounded_window_of_samples(store: Store) -> None:
    for n in range(WINDOW * 4):
        remember(store, CHECKLIST.name, Sample(at=NOW + timedelta(seconds=30 * n)))
    points = stored_points(store, CHECKLIST.name)
    assert len(points) == WINDOW and points[-1]["at"] == (NOW + timedelta(seconds=30 * (WINDOW * 4 - 1))).isoformat()


def test_ages_and_the_retention_setting_are_read_or_refused_clearly() -> None:
    assert parse_age("90d") == parse_age("90") == timedelta(days=90)
    assert parse_age("36h") == timedelta(hours=36) and parse_age("2w") == timedelta(days=14)
    for bad in ("", "0d", "-3d", "ninety", "3y"):
        with pytest.raises(ValueError, match=r"e\.g\. 90d"):
            parse_age(bad)
    assert retention_days({}) == 180 and retention_days({"GOLIVE_RETENTION_DAYS": "30"}) == 30
    with pytest.raises(ValueError, match="whole number of days"):
        retention_days({"GOLIVE_RETENTION_DAYS": "half a year"})


def test_a_prune_keeps_each_services_latest_results_and_folds_each_services_events_into_its_own_record(
        store: Store) -> None:
    """Two services with one checklist name: the newest result of a check in one service does not stand for
    the other's, and each service's pruned events are counted in its own deployment record only."""
    hunter = store.for_service("hunter")
    mine = old_run(store, 300, check_id="smoke")  # the default service's only result of smoke: kept
    theirs_old, theirs_new = old_run(hunter, 300, check_id="smoke"), old_run(hunter, 200, check_id="smoke")
    for s in (store, hunter):
        records = RolloutRecords(s, CHECKLIST.name)
        records.add_event("promote", phase="phase-1", from_phase=None, actor="U1", ok=True)
        if s is hunter:
            records.add_event("rollback", phase=None, from_phase="phase-1", actor="U1", ok=True)
    store.db.execute("UPDATE rollout_events SET at = :at", {"at": (NOW - timedelta(days=400)).isoformat()})
    hunter.put(f"delivery-failures:{theirs_old}", ["slack"])
    before = {s.service: RolloutRecords(s, CHECKLIST.name).deployment() for s in (store, hunter)}
    report = prune(store, timedelta(days=180), dry_run=False, now=NOW)
    assert report.runs == 1 and store.get_run(theirs_old) is None  # hunter's older smoke run went
    assert store.get_run(mine) is not None and store.get_run(theirs_new) is not None
    assert hunter.get(f"delivery-failures:{theirs_old}") is None  # its note, under hunter's kv key, with it
    assert report.events == 3
    for s in (store, hunter):
        after = RolloutRecords(s, CHECKLIST.name).deployment()
        assert (after["promotions"], after["rollback_count"]) == (before[s.service]["promotions"],
                                                                   before[s.service]["rollback_count"])
    assert store.get(PRUNED_EVENTS_KEY.format(checklist=CHECKLIST.name))["rollback_count"] == 0
    assert hunter.get(PRUNED_EVENTS_KEY.format(checklist=CHECKLIST.name))["rollback_count"] == 1
