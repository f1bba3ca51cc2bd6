"""The Go/No-Go rules of the go-live plan: critical blocks, high/medium make it conditional, low informs."""

from __future__ import annotations

from checks.result import CheckResult, Criticality, Status
from checks.spec import CheckSpec
from checks.verdict import Decision, Risk, SignoffState, decide


def spec(cid: str, crit: str) -> CheckSpec:
    return CheckSpec(id=cid, kind="env", criticality=Criticality(crit))


def result(cid: str, crit: str, status: str, summary: str = "x") -> CheckResult:
    return CheckResult(check_id=cid, kind="env", criticality=Criticality(crit), status=Status(status), summary=summary)


SPECS = [spec("c1", "critical"), spec("h1", "high"), spec("m1", "medium"), spec("l1", "low")]


def test_all_pass_is_go_with_low_risk() -> None:
    v = decide(SPECS, {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS})
    assert v.decision is Decision.GO and v.risk is Risk.LOW and not v.conditions


def test_a_failing_critical_check_is_no_go_and_says_which() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS}
    results["c1"] = result("c1", "critical", "fail", "no PONG")
    v = decide(SPECS, results)
    assert v.decision is Decision.NO_GO and v.risk is Risk.CRITICAL
    assert v.reasons == ["c1: no PONG"]


def test_a_critical_check_that_has_not_run_is_no_go() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS if s.id != "c1"}
    v = decide(SPECS, results)
    assert v.decision is Decision.NO_GO and "c1: has not run" in v.reasons


def test_a_failing_high_check_makes_go_conditional_and_lists_the_condition() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS}
    results["h1"] = result("h1", "high", "fail", "Sentry event not seen")
    v = decide(SPECS, results)
    assert v.decision is Decision.CONDITIONAL and v.risk is Risk.HIGH
    assert v.conditions == ["h1: Sentry event not seen"]


def test_pending_medium_is_conditional_with_medium_risk_and_low_is_only_a_note() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS if s.id != "m1"}
    results["l1"] = result("l1", "low", "fail", "API_PORT = 9000")
    v = decide(SPECS, results)
    assert v.decision is Decision.CONDITIONAL and v.risk is Risk.MEDIUM
    assert v.notes == ["l1: API_PORT = 9000"]


def test_signoffs_missing_are_conditions_and_a_rejection_blocks() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS}
    missing = SignoffState(required=["pre:tech_lead", "pre:qa"], approved={"pre:tech_lead": "U1"})
    v = decide(SPECS, results, missing)
    assert v.decision is Decision.CONDITIONAL and "sign-off pre:qa missing" in v.conditions
    rejected = SignoffState(required=["pre:tech_lead"], rejected={"pre:tech_lead": "U2: backup untested"})
    v = decide(SPECS, results, rejected)
    assert v.decision is Decision.NO_GO and "backup untested" in v.reasons[0]
    done = SignoffState(required=["pre:tech_lead"], approved={"pre:tech_lead": "U1"})
    assert decide(SPECS, results, done).decision is Decision.GO


def test_a_critical_check_awaiting_manual_confirmation_does_not_count_as_passed() -> None:
    specs = [spec("c1", "critical")]
    r = result("c1", "critical", "warn", "confirm in Sentry")
    r.needs_confirmation = True
    assert decide(specs, {"c1": r}).decision is Decision.NO_GO
