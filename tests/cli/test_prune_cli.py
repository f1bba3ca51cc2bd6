"""`golive prune --older-than 90d`: a dry run unless --yes; with --yes old history goes, audited; a bad
age is one clear line and exit 2. The leader's scheduled job prunes with GOLIVE_RETENTION_DAYS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.history import fill_history, history_checklist
from bot.serving.scheduler import ScheduledRuns, create_scheduler
from bot.store import open_store
from tests.cli.inprocess import golive_in_process
from tests.cli.test_small_gaps import write_checklist
from tests.operators import write_operators

CHECKLIST = history_checklist(checks=5, phases=1)


def seeded(tmp_path: Path) -> Path:
    """40 runs x 5 checks, one every 5 days: 20 of them older than 100 days."""
    path = tmp_path / "state" / "golive.db"
    store = open_store(None, sqlite_path=path)
    try:
        fill_history(store.db, CHECKLIST, 40, end=datetime.now(UTC) - timedelta(hours=1), spacing=timedelta(days=5))
    finally:
        store.close()
    return path


def runs_left(path: Path) -> int:
    store = open_store(None, sqlite_path=path)
    try:
        return int(store.db.fetchone("SELECT count(*) AS n FROM runs")["n"])  # type: ignore[index]  # count(*) always returns a row
    finally:
        store.close()


def test_prune_is_a_dry_run_until_yes(tmp_path: Path) -> None:
    path = seeded(tmp_path)
    checklist = write_checklist(tmp_path)  # sign-off roles: U_A (tech_lead), U_B and U_C (devops_lead)
    as_a = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U_A"))}
    dry = golive_in_process("prune", "--older-than", "100d", "--checklist", checklist, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 20 run(s), 100 result(s)" in dry.stdout and "--yes" in dry.stdout
    assert runs_left(path) == 40
    done = golive_in_process("prune", "--older-than", "100d", "--yes", "--batch-size", "20", "--json",
                             "--checklist", checklist, env=as_a, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runs"] == 20 and report["results"] == 100 and report["largest_batch"] <= 20
    assert runs_left(path) == 20
    store = open_store(None, sqlite_path=path)
    try:
        row = store.audit_log(action="store.pruned")[0]
    finally:
        store.close()
    assert row["actor"] == "cli:U_A" and row["detail"]["results"] == 100


@pytest.mark.parametrize("operators", [["U_NOROLE"], []], ids=["no-role", "unmapped"])
def test_deleting_history_needs_a_sign_off_role_like_every_other_change(tmp_path: Path,
                                                                        operators: list[str]) -> None:
    path = seeded(tmp_path)
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, *operators))}
    refused = golive_in_process("prune", "--older-than", "100d", "--yes", "--checklist", write_checklist(tmp_path),
                                env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "prune refused" in refused.stdout, refused.stdout + refused.stderr
    assert runs_left(path) == 40  # nothing deleted


def test_a_bad_age_or_retention_is_one_clear_line(tmp_path: Path) -> None:
    bad = golive_in_process("prune", "--older-than", "three months", cwd=tmp_path)
    assert bad.returncode == 2 and "e.g. 90d" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    off = golive_in_process("prune", cwd=tmp_path, env={"GOLIVE_RETENTION_DAYS": "0"})
    assert off.returncode == 2 and "--older-than" in off.stderr
    size = golive_in_process("prune", "--older-than", "9d", "--batch-size", "1", cwd=tmp_path)
    assert size.returncode == 2 and "--batch-size" in size.stderr


async def test_the_leaders_scheduled_job_prunes_with_the_retention_setting(tmp_path: Path) -> None:
    path = seeded(tmp_path)
    store = open_store(None, sqlite_path=path)
    scheduler = create_scheduler()
    claimed: list[str] = []

    async def claim(key: str) -> bool:
        if key in claimed:
            return False
        claimed.append(key)
        return True

    try:
        scheduled = ScheduledRuns(scheduler, store, CHECKLIST, claim=claim, retention=timedelta(days=100))
        assert f"retention:{CHECKLIST.name}" in scheduled.start()  # started by the leader, with its runs
        report = await scheduled.prune_history()
        assert report is not None and report.runs == 20 and not report.dry_run
        assert await scheduled.prune_history() is None  # another replica's claim of this window: skipped
        assert store.audit_log(action="store.pruned")[0]["actor"] == "golive-retention"
        scheduled.stop()
        assert scheduler.get_job(f"retention:{CHECKLIST.name}") is None
        assert ScheduledRuns(scheduler, store, CHECKLIST, retention=None).start() == []  # 0 days: no job
    finally:
        store.close()
