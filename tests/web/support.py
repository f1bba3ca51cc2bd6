"""Store contents for the web view's tests: a run with hostile evidence, a rollout with samples."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.rollout.charts import CHART_KEY
from bot.rollout.records import RolloutRecords
from checks.result import CheckResult, Criticality, Status
from checks.spec import Checklist
from checks.verdict import decide

HOSTILE = [
    "<script>document.title='PWNED-script'</script>",
    "<img src=x onerror=\"document.title='PWNED-img'\">",
    "<a href=\"javascript:document.title='PWNED-js'\">click me</a>",
    "<svg onload=\"document.title='PWNED-svg'\"><script>document.title='PWNED-svg2'</script></svg>",
]


def store_run(store: Any, checklist: Checklist, *, checks: int = 2, evidence: dict[str, Any] | None = None,
              ) -> str:
    """A finished run: the first check fails with `evidence`, the others pass with a little evidence each."""
    run = store.create_run(checklist=checklist.name, selector="day1", requested_by="U0RELEASE")
    results = []
    for i in range(checks):
        failing = i == 0
        results.append(CheckResult(
            check_id="hostile.output" if failing else f"check.{i:02d}", kind="command", phase="day1",
            criticality=Criticality.CRITICAL if failing else Criticality.HIGH,
            status=Status.FAIL if failing else Status.PASS,
            summary="migration failed: relation \"orders\" is locked" if failing else f"check {i} answered 200",
            evidence=(evidence or {}) if failing else {"status": 200, "url": f"https://app.example.com/health/{i}",
                                                        "elapsed_ms": 12.5 + i, "body": "ok " * 60}))
    for result in results:
        store.add_result(run.id, result)
    store.finish_run(run.id, decide(checklist.all_checks(), {r.check_id: r for r in results}), wall_ms=250)
    return str(run.id)


def unique_secret() -> str:
    return f"RawSecret-{uuid.uuid4().hex}"


def store_rollout(store: Any, checklist: Checklist) -> None:
    """A rollout in phase-2 with a P0 incident and 12 samples, the last three over the p95 alert line."""
    records = RolloutRecords(store, checklist.name)
    records.add_event("promote", phase="phase-1", from_phase=None, actor="U0DEVOPS", ok=True)
    records.add_event("promote", phase="phase-2", from_phase="phase-1", actor="U0DEVOPS", ok=True)
    records.set_phase("phase-2")
    start = datetime.now(UTC) - timedelta(minutes=6)
    records.incident_opened(id="inc-1", level="P0", phase="phase-2", rules=["p95_latency"],
                            message="p95 latency 2430 ms > 2000 ms", opened_at=start + timedelta(minutes=5))
    points = [{"at": (start + timedelta(seconds=30 * i)).isoformat(), "p95_ms": 300.0 + 40 * i if i < 9 else 2400.0,
               "error_pct": 0.2, "ready": 1.0 if i < 10 else 0.0} for i in range(12)]
    store.put(CHART_KEY.format(checklist=checklist.name), points)
    records.publish_deployment()
