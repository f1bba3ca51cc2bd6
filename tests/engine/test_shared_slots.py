"""Runs in one process share their check slots and start their checks one per loop turn, so five services
running a phase at once never fill a loop turn with dozens of check starts (the acks wait behind them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from checks.loader import parse_checklist, select_checks
from checks.registry import KINDS, CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.runner import Runner, StartGate

FLIGHT: dict[str, int] = {"now": 0, "most": 0, "ran": 0}
STARTS: list[int] = []
TURN = {"n": 0}


class YieldParams(Params):
    turns: int = 5


if "test.yielding" not in KINDS:

    @check_kind("test.yielding", YieldParams)
    async def yielding_check(ctx: CheckContext, p: YieldParams) -> Outcome:
        """Counts itself in flight, records the loop turn it started in, and stays for `turns` turns."""
        STARTS.append(TURN["n"])
        FLIGHT["now"] += 1
        FLIGHT["most"] = max(FLIGHT["most"], FLIGHT["now"])
        for _ in range(p.turns):
            await asyncio.sleep(0)
        FLIGHT["now"] -= 1
        FLIGHT["ran"] += 1
        return Outcome(status=Status.PASS, summary="done")


@pytest.fixture(autouse=True)
def counters() -> Iterator[None]:
    FLIGHT.update(now=0, most=0, ran=0)
    STARTS.clear()
    TURN["n"] = 0
    yield


def ticking() -> asyncio.Handle:
    """Counts the turns of the running loop: a callback that schedules itself runs once per turn."""
    loop = asyncio.get_running_loop()

    def tick() -> None:
        TURN["n"] += 1
        ticking.handle = loop.call_soon(tick)  # type: ignore[attr-defined]

    ticking.handle = loop.call_soon(tick)  # type: ignore[attr-defined]
    return ticking.handle  # type: ignore[attr-defined,no-any-return]


def runner_of(name: str, count: int, turns: int = 5) -> tuple[Runner, list]:
    body = "".join(f"      - {{id: c{i}, kind: test.yielding, params: {{turns: {turns}}}}}\n" for i in range(count))
    cl = parse_checklist(f"name: {name}\nphases:\n  - id: p\n    checks:\n" + body, f"{name}.yml")
    return Runner(cl, concurrency=16), select_checks(cl, "p")


async def test_runs_of_one_process_together_hold_at_most_the_process_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_CHECK_SLOTS", "3")
    (a, checks_a), (b, checks_b) = runner_of("a", 6), runner_of("b", 6)
    reports = await asyncio.gather(a.run(checks_a), b.run(checks_b))
    assert FLIGHT["ran"] == 12 and all(res.status is Status.PASS for r in reports for res in r.results)
    assert FLIGHT["most"] == 3  # both runs' checks together, never more than the slots (each run alone allows 16)


async def test_checks_start_one_per_loop_turn_across_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_CHECK_SLOTS", "32")
    (a, checks_a), (b, checks_b) = runner_of("a", 10, turns=30), runner_of("b", 10, turns=30)
    ticking()
    try:
        await asyncio.gather(a.run(checks_a), b.run(checks_b))
    finally:
        ticking.handle.cancel()  # type: ignore[attr-defined]
    assert len(STARTS) == 20
    assert len(set(STARTS)) == 20, f"two checks started in the same loop turn: {STARTS}"
    assert FLIGHT["most"] > 1  # one start per turn, yet they still run together


async def test_a_waiter_cancelled_at_the_gate_does_not_stall_the_ones_behind_it() -> None:
    gate = StartGate()
    holder = asyncio.create_task(gate.turn())
    first, second = asyncio.create_task(gate.turn()), asyncio.create_task(gate.turn())
    await asyncio.sleep(0)  # the holder went through; the other two wait for their turns
    first.cancel()
    await asyncio.wait_for(second, 5)  # a count of turns would hang here, not a time: the 5 s only ends a hang
    assert holder.done() and first.cancelled()
    assert gate.turns == 2
