"""One entry point for every run, whoever asks (CLI, Slack, Teams, scheduler): command → runner →
results → store. Transports pass callbacks to render progress; they never compute the verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.store import RunRecord, Store
from bot.waivers import active_waivers
from checks.loader import select_checks
from checks.result import CheckResult
from checks.runner import Runner, RunReport
from checks.spec import Checklist
from checks.verdict import decide

ProgressCallback = Callable[[RunRecord, CheckResult, int, int], Awaitable[None] | None]


@dataclass
class RunOutcome:
    run: RunRecord
    report: RunReport


async def execute_run(
    store: Store,
    checklist: Checklist,
    selector: str,
    *,
    requested_by: str = "",
    source: str = "cli",
    runner: Runner | None = None,
    on_created: Callable[[RunRecord], Awaitable[None]] | None = None,
    on_result: ProgressCallback | None = None,
    run_id: str | None = None,
) -> RunOutcome:
    """Run the selected checks and persist every result the moment it arrives."""
    checks = select_checks(checklist, selector)
    runner = runner or Runner(checklist)
    run = await asyncio.to_thread(store.create_run, checklist=checklist.name, selector=selector,
                                  requested_by=requested_by, source=source, expected=checks, run_id=run_id)
    if on_created is not None:
        await on_created(run)
    finished = 0

    async def persist(result: CheckResult) -> None:
        nonlocal finished
        await asyncio.to_thread(store.add_result, run.id, result)
        finished += 1
        if on_result is not None:
            maybe = on_result(run, result, finished, len(checks))
            if asyncio.iscoroutine(maybe):
                await maybe

    try:
        report = await runner.run(checks, selector=selector, on_result=persist)
    except BaseException:
        await asyncio.to_thread(store.mark_interrupted, run.id)
        raise
    # The store is the record: a check a person confirmed while the run went on counts in the verdict.
    stored = {r.check_id: r for r in await asyncio.to_thread(store.results, run.id)}
    report.results = [stored.get(r.check_id, r) for r in report.results]
    waivers = await asyncio.to_thread(active_waivers, store, checklist)
    report.verdict = decide(checks, {r.check_id: r for r in report.results}, waivers=waivers)
    await asyncio.to_thread(store.finish_run, run.id, report.verdict, wall_ms=report.wall_ms)
    final = await asyncio.to_thread(store.get_run, run.id)
    assert final is not None
    return RunOutcome(run=final, report=report)
