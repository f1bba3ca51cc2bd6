"""Test helper for waivers and freezes: put results in the store as a finished run would, so the verdict
has something to judge without running the checks again."""

from __future__ import annotations

from bot.store import Store
from checks.result import CheckResult, Status
from checks.spec import Checklist
from checks.verdict import decide


def seed_results(store: Store, checklist: Checklist, statuses: dict[str, str]) -> None:
    """One finished run with the given status per check id (the others left out: they have not run)."""
    specs = [c for c in checklist.all_checks() if c.id in statuses]
    run = store.create_run(checklist=checklist.name, selector="seeded", requested_by="test", expected=specs)
    results = {}
    for spec in specs:
        result = CheckResult(check_id=spec.id, kind=spec.kind, phase=spec.phase, criticality=spec.criticality,
                             status=Status(statuses[spec.id]), summary=f"{statuses[spec.id]} (seeded)")
        store.add_result(run.id, result)
        results[spec.id] = result
    store.finish_run(run.id, decide(specs, results))
