"""The runner runs checks concurrently, bounds each by its timeout, isolates crashes, honours needs."""

from __future__ import annotations

import asyncio

from checks.loader import parse_checklist, select_checks
from checks.registry import KINDS, CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.runner import Runner
from checks.verdict import Decision


class SleepParams(Params):
    seconds: float = 0.2
    outcome: str = "pass"


if "test.sleep" not in KINDS:

    @check_kind("test.sleep", SleepParams)
    async def sleep_check(ctx: CheckContext, p: SleepParams) -> Outcome:
        """Waits, then passes, fails or raises: a stand-in for a slow probe."""
        await asyncio.sleep(p.seconds)
        if p.outcome == "raise":
            raise RuntimeError("boom at postgresql://app:hunter2secret@db.internal/app")
        return Outcome(status=Status(p.outcome), summary=f"slept {p.seconds}s")


class TogetherParams(Params):
    expect: int = 10


TOGETHER: dict[str, int] = {"in_flight": 0, "most": 0}
ALL_IN: list[asyncio.Event] = []


if "test.together" not in KINDS:

    @check_kind("test.together", TogetherParams)
    async def together_check(ctx: CheckContext, p: TogetherParams) -> Outcome:
        """Passes once `expect` checks of this kind are in flight at the same time: concurrency counted, not
        timed (run one after another, none of them ever sees the others, and each times out)."""
        TOGETHER["in_flight"] += 1
        TOGETHER["most"] = max(TOGETHER["most"], TOGETHER["in_flight"])
        if TOGETHER["in_flight"] >= p.expect:
            ALL_IN[-1].set()
        try:
            await ALL_IN[-1].wait()
        finally:
            TOGETHER["in_flight"] -= 1
        return Outcome(status=Status.PASS, summary=f"{TOGETHER['most']} in flight together")


def checklist(body: str):
    return parse_checklist("name: t\nphases:\n  - id: p\n    checks:\n" + body, "t.yml")


async def run(body: str, selector: str = "p"):
    cl = checklist(body)
    return await Runner(cl, env={}).run(select_checks(cl, selector), selector=selector)


async def test_checks_run_concurrently_not_one_after_another() -> None:
    TOGETHER.update(in_flight=0, most=0)
    ALL_IN.append(asyncio.Event())
    body = "".join(f"      - {{id: c{i}, kind: test.together, timeout: 30}}\n" for i in range(10))
    report = await run(body)
    assert TOGETHER["most"] == 10, f"at most {TOGETHER['most']} of 10 checks ran at once"
    assert all(r.status is Status.PASS for r in report.results), [r.summary for r in report.results]


async def test_a_hung_check_fails_at_its_own_timeout_and_others_finish() -> None:
    body = ("      - {id: hung, kind: test.sleep, timeout: 0.3, criticality: critical, params: {seconds: 30}}\n"
            "      - {id: quick, kind: test.sleep, params: {seconds: 0.05}}\n")
    report = await run(body)
    by_id = {r.check_id: r for r in report.results}
    assert by_id["hung"].status is Status.FAIL and "timed out after 0.3s" in by_id["hung"].summary
    assert by_id["quick"].status is Status.PASS
    assert report.verdict.decision is Decision.NO_GO


async def test_a_check_that_raises_is_an_error_with_masked_message_and_does_not_stop_others() -> None:
    body = ("      - {id: bad, kind: test.sleep, params: {seconds: 0, outcome: raise}}\n"
            "      - {id: good, kind: test.sleep, params: {seconds: 0}}\n")
    report = await run(body)
    by_id = {r.check_id: r for r in report.results}
    assert by_id["bad"].status is Status.ERROR
    assert "RuntimeError: boom" in by_id["bad"].summary
    assert "hunter2secret" not in by_id["bad"].summary
    assert by_id["good"].status is Status.PASS


async def test_a_failed_dependency_skips_its_dependents_with_the_reason() -> None:
    body = ("      - {id: base, kind: test.sleep, params: {seconds: 0, outcome: fail}}\n"
            "      - {id: child, kind: test.sleep, needs: [base], params: {seconds: 0}}\n"
            "      - {id: grandchild, kind: test.sleep, needs: [child], params: {seconds: 0}}\n")
    report = await run(body)
    by_id = {r.check_id: r for r in report.results}
    assert by_id["child"].status is Status.SKIP and "needs base fail" in by_id["child"].summary
    assert by_id["grandchild"].status is Status.SKIP and "needs child skip" in by_id["grandchild"].summary


async def test_dependents_wait_for_their_dependency() -> None:
    body = ("      - {id: first, kind: test.sleep, params: {seconds: 0.2}}\n"
            "      - {id: second, kind: test.sleep, needs: [first], params: {seconds: 0}}\n")
    report = await run(body)
    by_id = {r.check_id: r for r in report.results}
    assert by_id["second"].started_at >= by_id["first"].finished_at or by_id["second"].status is Status.PASS
    assert [r.check_id for r in report.results] == ["first", "second"]


async def test_missing_variable_fails_the_check_saying_which_variable() -> None:
    cl = checklist("      - {id: e, kind: env, params: {var: '${WHICH_VAR}'}}\n")
    report = await Runner(cl, env={}).run(cl.all_checks())
    assert report.results[0].status is Status.FAIL
    assert "WHICH_VAR is not set" in report.results[0].summary


async def test_when_condition_makes_a_check_that_does_not_apply_na_and_out_of_the_verdict() -> None:
    cl = checklist("      - {id: g, kind: env, criticality: critical, when: {ENVIRONMENT: production}, "
                   "params: {var: X}}\n"
                   "      - {id: h, kind: env, criticality: critical, needs: [g], params: {var: X}}\n")
    report = await Runner(cl, env={"ENVIRONMENT": "staging", "X": "1"}).run(cl.all_checks())
    assert [r.status for r in report.results] == [Status.NA, Status.NA]
    assert "ENVIRONMENT is staging" in report.results[0].summary
    assert report.verdict.decision.label == "GO" and report.verdict.counts["n/a"] == 2


async def test_a_critical_check_skipped_after_a_failed_dependency_has_not_run_and_is_no_go() -> None:
    cl = checklist("      - {id: g, kind: env, criticality: critical, params: {var: MISSING_VAR}}\n"
                   "      - {id: h, kind: env, criticality: critical, needs: [g], params: {var: X}}\n")
    report = await Runner(cl, env={"X": "1"}).run(cl.all_checks())
    assert report.results[1].status is Status.SKIP
    assert report.verdict.decision.label == "NO-GO"
    assert any(r.startswith("h: skipped: needs g") for r in report.verdict.reasons)


async def test_progress_callback_sees_every_result_and_a_broken_callback_is_harmless() -> None:
    cl = checklist("".join(f"      - {{id: c{i}, kind: test.sleep, params: {{seconds: 0}}}}\n" for i in range(5)))
    seen: list[str] = []

    def on_result(result) -> None:
        seen.append(result.check_id)
        raise ValueError("display broke")

    report = await Runner(cl, env={}).run(cl.all_checks(), on_result=on_result)
    assert sorted(seen) == [f"c{i}" for i in range(5)]
    assert len(report.results) == 5
