"""Every view stays valid Block Kit within Slack's limits however large its input, shows no secret,
and cannot be turned into markup or mass mentions by text from a check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.announcements.events import AlertEvent, Announcement
from bot.chatops.commands import usage
from bot.chatops.replies import Denied, Failed, HelpReply, HistoryReply, Notice, RunBusy
from bot.runs.status import PhaseStatus, StatusOverview
from bot.signoff.service import RoleDecision, SignoffRequest
from bot.slack.views.blocks import BLOCKS_JSON_BUDGET, MAX_BLOCKS, SlackMessage, clip
from bot.slack.views.help import help_message, history_message
from bot.slack.views.notices import notice_message
from bot.slack.views.rollout import alert_closed_message, alert_message, announcement_message
from bot.slack.views.run import check_reply, run_interrupted, run_progress, run_verdict
from bot.slack.views.signoff import reject_modal, signoff_card
from bot.slack.views.status import status_message
from bot.store import RunRecord
from checks.masking import masker
from checks.result import CheckResult, Criticality, Status
from checks.spec import CheckSpec, Role, SignoffStage
from checks.verdict import SignoffState, decide
from tests.slack.support import block_problems

SECRET = "xoxb-9999999999-leakedtokenvalue"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def assert_fits(message: SlackMessage) -> dict:
    payload = message.payload()
    assert block_problems("view", payload) == []
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert len(json.dumps(payload["blocks"])) <= BLOCKS_JSON_BUDGET
    assert payload["text"].strip()
    assert SECRET not in json.dumps(payload, ensure_ascii=False)
    return payload


def result(i: int, status: Status = Status.FAIL, *, evidence_size: int = 100) -> CheckResult:
    return CheckResult(check_id=f"check.{i:03d}", title=f"check number {i}", kind="command", phase="day1",
                       criticality=Criticality.CRITICAL, status=status,
                       summary=f"failed with <!channel> & {SECRET} " + "x" * 300,
                       evidence={"output_tail": ("line <b>\n" * (evidence_size // 10)), "token": SECRET},
                       duration_ms=12.5)


def run(selector: str = "day1") -> RunRecord:
    return RunRecord(id="abc123", checklist="hunter", selector=selector, requested_by="U0RELEASE", source="slack",
                     status="running", started_at=NOW, finished_at=None, verdict=None, wall_ms=None,
                     expected=[f"check.{i:03d}" for i in range(200)])


@pytest.fixture(autouse=True)
def known_secret() -> None:
    masker.add(SECRET)


def test_verdict_of_a_huge_failing_run_fits() -> None:
    results = [result(i, Status.FAIL if i % 3 else Status.PASS) for i in range(200)]
    specs = [CheckSpec(id=r.check_id, kind="command", criticality=Criticality.CRITICAL) for r in results]
    verdict = decide(specs, {r.check_id: r for r in results})
    payload = assert_fits(run_verdict(run(), results, verdict, 12_345.0))
    blob = json.dumps(payload, ensure_ascii=False)
    assert "NO-GO" in payload["text"]
    assert "<!channel>" not in blob and "&lt;!channel&gt;" in blob  # check text cannot ping the channel
    assert "…and" in blob  # long lists say how much is not shown


def test_progress_and_interrupted_fit() -> None:
    results = [result(i) for i in range(150)]
    assert "150/200" in assert_fits(run_progress(run(), results, 200))["text"]
    interrupted = assert_fits(run_interrupted(run(), results, 200))
    button = interrupted["blocks"][2]["elements"][0]
    assert (button["action_id"], button["value"]) == ("run_rerun", "day1")


def test_check_reply_truncates_long_evidence_with_a_note() -> None:
    payload = assert_fits(check_reply(result(1, evidence_size=60_000)))
    blob = json.dumps(payload, ensure_ascii=False)
    assert "evidence truncated" in blob and "golive run check.001" in blob
    assert "<!channel>" not in payload["text"] and "&lt;!channel&gt;" in payload["text"]  # fallback text too


def test_status_with_many_phases_and_conditions_fits() -> None:
    specs = [CheckSpec(id=f"c.{i}", kind="command", criticality=Criticality.HIGH) for i in range(300)]
    verdict = decide(specs, {}, SignoffState(required=[f"pre:r{i}" for i in range(40)]))
    phases = [PhaseStatus(id=f"phase{i}", title="A phase with a long title " * 3,
                          counts={s.value: 3 for s in Status}, total=18, last_run_at=NOW - timedelta(hours=i),
                          checks=[]) for i in range(60)]
    overview = StatusOverview(checklist="hunter", phases=phases, verdict=verdict, signoffs=SignoffState(),
                              missing_signoffs=[f"Role {i} (pre)" for i in range(40)], rollout_phase="phase-2",
                              running=[run(f"day{i}") for i in range(30)])
    payload = assert_fits(status_message(overview))
    assert "phase-2" in json.dumps(payload, ensure_ascii=False)


def test_signoff_card_with_many_roles_and_decisions_fits() -> None:
    roles = [Role(id=f"role_{i}", title=f"Role {i}") for i in range(30)]
    request = SignoffRequest(id="req1", stage="pre", checklist="hunter", run_id=None, requested_by="U0REQ",
                             created_at=NOW)
    request.decisions["role_1"] = RoleDecision("role_1", "reject", "U0X", "why " * 600, NOW)
    request.decisions["role_2"] = RoleDecision("role_2", "approve", "U0Y", "", NOW)
    payload = assert_fits(signoff_card(request, SignoffStage(title="Before", roles=roles)))
    blob = json.dumps(payload, ensure_ascii=False)
    assert "approved by <@U0Y>" in blob and "not shown" in blob  # too many roles for one message: says so


def test_reject_modal_is_a_valid_view() -> None:
    view = reject_modal(role_title="Product Owner" * 20, stage_title="Before deploy",
                        private_metadata=json.dumps({"request": "r", "role": "product_owner"})).to_dict()
    assert view["callback_id"] == "signoff_reject_reason"
    assert block_problems("modal", view, view=True) == []


def test_small_replies_fit() -> None:
    assert_fits(help_message(HelpReply(usage=usage(), unknown="<script>" * 500)))
    runs = [run(f"sel{i}") for i in range(50)]
    assert_fits(history_message(HistoryReply(checklist="hunter", runs=runs)))
    assert_fits(history_message(HistoryReply(checklist="hunter")))
    for reply in (Denied("signoff.decide", "no " * 2000), Failed(SECRET), Notice("ok"), RunBusy("day1", run()),
                  RunBusy("day1")):
        assert_fits(notice_message(reply))


def test_rollout_views_fit() -> None:
    event = Announcement(kind="promoted", checklist="hunter", phase="phase-2", actor="U0TECH",
                         flags={f"HUNTER_FLAG_{i}": "true" for i in range(100)}, reasons=["r" * 5000] * 30)
    assert_fits(announcement_message(event))
    alert = AlertEvent(incident_id="i" * 400, state="opened", level="P0", rule="error_rate", message="m" * 5000,
                       checklist="hunter", phase="phase-2", actions=["rollback", "keep_going"])
    payload = assert_fits(alert_message(alert))
    assert {"rollout_rollback", "rollout_keep_going"} <= {
        e["action_id"] for b in payload["blocks"] for e in b.get("elements", []) if "action_id" in e}
    assert_fits(alert_closed_message(alert))


def test_clip_says_it_truncated() -> None:
    assert clip("abc", 10) == "abc"
    cut = clip("x" * 5000, 100, noted=True)
    assert len(cut) <= 100 and "truncated from 5,000 characters" in cut


def test_a_runs_verdict_and_the_status_name_what_the_checks_wrote_and_their_cleanup() -> None:
    """A real run of a writing check (smoke.scan on the demo service): the Slack verdict and `status`, valid
    Block Kit, list what it wrote and that its cleanup ran, under the heading `golive run` prints too."""
    from bot.chatops.replies import WRITES_TITLE
    from tests.chatops.writes_run import CLEANED, WROTE, writing_run

    report = writing_run()
    payload = assert_fits(run_verdict(run("day3"), report.results, report.verdict, report.wall_ms))
    blob = json.dumps(payload, ensure_ascii=False)
    assert WRITES_TITLE in blob and WROTE in blob and CLEANED in blob
    overview = StatusOverview(checklist="hunter", phases=[], verdict=report.verdict, signoffs=SignoffState(),
                              missing_signoffs=[], rollout_phase=None)
    status = json.dumps(assert_fits(status_message(overview)), ensure_ascii=False)
    assert WRITES_TITLE in status and WROTE in status and CLEANED in status
