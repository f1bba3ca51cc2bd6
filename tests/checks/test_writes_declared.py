"""Checks that write say so (`golive checks`, evidence, verdict), write only synthetic records and clean
them up, and a `read_only: true` checklist turns every writing check into n/a with the reason (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo import DemoServer, serve_target
from bot.terminal.render import render_checklist
from checks.loader import bundled_checklist, load_checklist
from checks.result import Status
from checks.runner import Runner
from tests.checks.http_fixtures import checklist_for, run_checks, run_one

SCAN = """- id: smoke.scan
  kind: http
  params:
    url: /api/v1/scan
    method: POST
    headers: {X-API-Key: demo-api-key}
    json: {domain: golive-smoke.example}
    expect_status: [202]
    cleanup: {method: DELETE, url: /api/v1/leads/golive-smoke.example, headers: {X-API-Key: demo-api-key}}
"""


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with serve_target(rate_limit=0) as server:
        yield server


def test_golive_checks_names_what_each_writing_check_writes() -> None:
    listing = render_checklist(load_checklist(bundled_checklist("hunter")))
    lines = listing.splitlines()
    scan = lines.index(next(line for line in lines if line.strip().startswith("smoke.scan ")))
    assert lines[scan + 1].strip().startswith(
        'writes: POST /api/v1/scan {"domain":"golive-smoke.example"}, then DELETE '
        "/api/v1/leads/golive-smoke.example (cleanup)"), lines[scan + 1]
    roundtrip = lines.index(next(line for line in lines if line.strip().startswith("redis.roundtrip ")))
    assert "writes: SET/GET/DEL of one key golive:check:hunter:" in lines[roundtrip + 1]
    health = lines.index(next(line for line in lines if line.strip().startswith("health.live ")))
    assert "writes" not in lines[health + 1]  # a GET writes nothing and says nothing


def test_the_bundled_checklists_scan_only_the_synthetic_lead() -> None:
    for name in ("hunter", "demo"):
        scan = load_checklist(bundled_checklist(name)).check("smoke.scan")
        assert scan is not None
        domain = scan.params["json"]["domain"]
        assert domain in ("golive-smoke.example", "${HUNTER_SMOKE_DOMAIN}"), domain
        assert "golive-smoke.example" in str(scan.params["cleanup"]["url"]) or "SMOKE_DOMAIN" in str(
            scan.params["cleanup"]["url"])
    assert load_checklist(bundled_checklist("hunter")).vars["HUNTER_SMOKE_DOMAIN"] == "golive-smoke.example"


async def test_a_writing_check_creates_and_removes_its_synthetic_record_and_says_so(demo: DemoServer) -> None:
    before = demo.state.records_bytes()
    checklist = checklist_for(demo.base_url, SCAN)
    report = await Runner(checklist, env={}).run(checklist.all_checks())
    result = report.results[0]
    assert result.status is Status.PASS, result.summary
    assert "synthetic record removed" in result.summary
    assert result.evidence["writes"].startswith("POST /api/v1/scan")
    assert result.evidence["changed"] == ["POST /api/v1/scan → 202",
                                          "DELETE /api/v1/leads/golive-smoke.example → 204 (cleanup)"]
    assert report.verdict.writes == [
        "smoke.scan: POST /api/v1/scan → 202; DELETE /api/v1/leads/golive-smoke.example → 204 (cleanup)"]
    assert demo.state.records_bytes() == before  # created, then removed: nothing real changed


async def test_a_cleanup_that_fails_is_a_warning_that_the_record_may_remain(demo: DemoServer) -> None:
    result = await run_one(demo.base_url, SCAN.replace("headers: {X-API-Key: demo-api-key}}", "headers: {}}"))
    assert result.status is Status.WARN
    assert "cleanup DELETE /api/v1/leads/golive-smoke.example answered HTTP 401" in result.summary
    assert "the synthetic record may remain" in result.summary


async def test_read_only_makes_every_writing_check_na_with_the_reason_and_sends_nothing(demo: DemoServer) -> None:
    before = demo.state.records_bytes()
    results = await run_checks(demo.base_url, SCAN + "- {id: health.live, kind: http, params: {url: /healthz/live}}",
                               target_yaml="")
    assert results[0].status is Status.PASS  # the same check writes without read_only
    checklist = checklist_for(demo.base_url, SCAN + "- {id: health.live, kind: http, params: {url: /healthz/live}}")
    checklist.read_only = True
    requests_before = demo.state.snapshot()["traffic"]["requests_total"]
    report = await Runner(checklist, env={}).run(checklist.all_checks())
    scan, live = report.results
    assert scan.status is Status.NA
    assert scan.summary.startswith("not applicable: the checklist is read_only: true and this check writes "
                                   "(POST /api/v1/scan")
    assert live.status is Status.PASS  # reads still run
    assert demo.state.snapshot()["traffic"]["requests_total"] == requests_before  # no POST, no DELETE sent
    assert report.verdict.writes == [] and demo.state.records_bytes() == before
    assert "would write (n/a: read_only)" in render_checklist(checklist)


async def test_read_only_is_a_checklist_key() -> None:
    checklist = checklist_for("http://127.0.0.1:1", "- {id: a, kind: http, params: {url: /}}")
    data = checklist.model_dump()
    assert data["read_only"] is False


async def test_summaries_and_evidence_carry_no_terminal_escape_codes(tmp_path: Path) -> None:
    script = tmp_path / "colours.sh"
    script.write_text("printf '\\033[31mERROR:\\033[0m boom \\033]0;title\\007done\\n'\nexit 3\n")
    checklist = checklist_for("http://127.0.0.1:1",
                              f"- {{id: colours, kind: command, params: {{command: [sh, {script}]}}}}")
    report = await Runner(checklist, env={}).run(checklist.all_checks())
    result = report.results[0]
    assert result.status is Status.FAIL
    text = result.summary + repr(result.evidence)
    assert "\x1b" not in text and "\x07" not in text, text
    assert "ERROR: boom" in result.summary


async def test_a_rate_limit_burst_that_only_gets_500s_names_the_failure() -> None:
    with serve_target(mode="error_rate", error_fraction=1.0, rate_limit=0) as server:
        result = await run_one(server.base_url, "- {id: rl, kind: smoke.rate_limit, params: {url: /api/v1/leads, "
                                                "burst: 12}}")
    assert result.status is Status.FAIL
    assert "rate limiting is not active" not in result.summary
    assert result.summary.startswith("every one of 12 requests failed (500 x12), so rate limiting could not be "
                                     "judged: HTTP 500"), result.summary
    assert "internal server error" in result.summary
