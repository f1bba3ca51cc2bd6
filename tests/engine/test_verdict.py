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


def test_na_is_counted_but_never_part_of_the_verdict() -> None:
    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS}
    results["c1"] = result("c1", "critical", "n/a", "not applicable: ENVIRONMENT is development")
    v = decide(SPECS, results)
    assert v.decision is Decision.GO and v.counts["n/a"] == 1 and not v.reasons[1:]


def test_a_high_check_failing_on_a_5xx_weighs_as_its_criticality_when_5xx() -> None:
    api = CheckSpec(id="api.v1", kind="api.v1", criticality=Criticality.HIGH, criticality_when_5xx=Criticality.CRITICAL)
    on_500 = CheckResult(check_id="api.v1", kind="api.v1", criticality=Criticality.HIGH, status=Status.FAIL,
                         summary="1 of 1 v1 endpoint(s) wrong", evidence={"endpoints": [{"status": 500}]})
    on_404 = on_500.model_copy(update={"evidence": {"endpoints": [{"status": 404}]}})
    assert decide([api], {"api.v1": on_500}).decision is Decision.NO_GO
    assert decide([api], {"api.v1": on_404}).decision is Decision.CONDITIONAL


def test_required_checks_weigh_as_critical_and_live_waivers_lift_a_condition_until_they_expire() -> None:
    from datetime import UTC, datetime, timedelta

    from checks.verdict import Waiver

    results = {s.id: result(s.id, s.criticality.value, "pass") for s in SPECS}
    results["h1"] = result("h1", "high", "fail", "Sentry event not seen")
    assert decide(SPECS, results, require={"h1"}).decision is Decision.NO_GO
    now = datetime.now(UTC)
    waiver = Waiver(check_id="h1", by="U1", until=now + timedelta(minutes=5), reason="Sentry outage")
    v = decide(SPECS, results, waivers=[waiver], now=now)
    assert v.decision is Decision.GO and v.waived and "waived by U1" in v.waived[0]
    assert decide(SPECS, results, waivers=[waiver], now=now + timedelta(minutes=6)).decision is Decision.CONDITIONAL
    critical = {**results, "c1": result("c1", "critical", "fail")}
    c_waiver = waiver.model_copy(update={"check_id": "c1"})
    assert decide(SPECS, critical, waivers=[c_waiver], now=now).decision is Decision.NO_GO  # not waivable
