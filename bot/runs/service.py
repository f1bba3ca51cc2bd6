"""One entry point for every run, whoever asks (CLI, Slack, Teams, scheduler): command → runner →
results → store. Transports pass callbacks to render progress; they never compute the verdict."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.coordination.stopping import stop_task
from bot.policy.waivers import active_waivers
from bot.runs.durable import OWNER, Durability, ResultWriter, RunIncomplete, heartbeat, patiently, reap
from bot.store import RunRecord, Store, StoreUnavailable
from checks.loader import select_checks
from checks.result import CheckResult
from checks.runner import Runner, RunReport
from checks.spec import Checklist, CheckSpec
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
    durability: Durability | None = None,
) -> RunOutcome:
    """Run the selected checks and persist every result the moment it arrives.

    Raises RunIncomplete (a StoreUnavailable) when a result or the verdict could not be stored within
    the hold window: the run is then `incomplete` (or reaped as interrupted later) and decides nothing.
    """
    policy = durability or Durability.from_env()
    checks = select_checks(checklist, selector)
    runner = runner or Runner(checklist)
    with contextlib.suppress(StoreUnavailable):  # runs a dead process (CLI included) left 'running'
        await reap(store, checklist=checklist.name, ttl=policy.heartbeat_ttl)
    run = await asyncio.to_thread(store.create_run, checklist=checklist.name, selector=selector,
                                  requested_by=requested_by, source=source, expected=checks, run_id=run_id,
                                  owner=OWNER)
    beat = asyncio.create_task(heartbeat(store, run.id, policy.heartbeat))
    try:
        return await _run(store, run, checks, selector, runner, policy, on_created, on_result, checklist)
    finally:
        await stop_task(beat)  # repeated cancels: a lost one must not keep the run from ending


async def _run(store: Store, run: RunRecord, checks: list[CheckSpec], selector: str, runner: Runner,
               policy: Durability, on_created: Callable[[RunRecord], Awaitable[None]] | None,
               on_result: ProgressCallback | None, checklist: Checklist) -> RunOutcome:
    if on_created is not None:
        await on_created(run)
    writer = ResultWriter(store, run.id, policy)
    finished = 0

    async def persist(result: CheckResult) -> None:
        nonlocal finished
        await writer.write(result)  # never raises for the store: retried, else held
        finished += 1
        if on_result is not None:
            maybe = on_result(run, result, finished, len(checks))
            if asyncio.iscoroutine(maybe):
                await maybe

    try:
        report = await runner.run(checks, selector=selector, on_result=persist, run_id=run.id)
        if not await writer.flush(policy.hold_seconds):
            order = [c.id for c in checks]
            raise RunIncomplete(run.id, sorted(writer.held, key=order.index), writer.last_error)
        # The store is the record: a check a person confirmed while the run went on counts in the verdict.
        stored = {r.check_id: r for r in await patiently(lambda: store.results(run.id), policy)}
        lost = [c.id for c in checks if c.id not in stored]
        if lost:  # e.g. a write that raised something the runner swallowed
            raise RunIncomplete(run.id, lost, "some results never reached the store")
        report.results = [stored.get(r.check_id, r) for r in report.results]
        waivers = await patiently(lambda: active_waivers(store, checklist), policy)
        report.verdict = decide(checks, {r.check_id: r for r in report.results}, waivers=waivers)
        await patiently(lambda: store.finish_run(run.id, report.verdict, wall_ms=report.wall_ms), policy)
        final = await patiently(lambda: store.get_run(run.id), policy)
    except RunIncomplete:
        with contextlib.suppress(StoreUnavailable):  # else the reaper marks it once its heartbeat expires
            await asyncio.to_thread(store.mark_incomplete, run.id)
        raise
    except StoreUnavailable as exc:
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(store.mark_incomplete, run.id)
        raise RunIncomplete(run.id, [], str(exc)) from None
    except BaseException:
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(store.mark_interrupted, run.id)
        raise
    assert final is not None
    return RunOutcome(run=final, report=report)
